/** Read-only and maintenance modes, switched through the admin endpoint and the command line. */
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { cacheStore } from "../../lib/cache/store.js";
import { MODE_MEMO_MS, platformMode, resetPlatformMode, setPlatformMode } from "../../lib/platform/mode.js";
import { useConfig } from "../harness/config.js";
import { seededDemo, type DemoCallers } from "../harness/demo.js";
import { serve, type RunningServer } from "../harness/http.js";
import { freePort } from "../harness/net.js";
import { runScript } from "../harness/scripts.js";

const ADMIN = "admin-token-0123456789abcdef";
const METRICS = "metrics-token-0123456789abcdef";
let server: RunningServer;
let callers: DemoCallers;
let agentPath: string;

async function call(pathname: string, init: RequestInit & { token?: string } = {}) {
  const headers = new Headers(init.headers);
  if (init.token) headers.set("authorization", `Bearer ${init.token}`);
  const response = await fetch(`${server.baseUrl}${pathname}`, { ...init, headers });
  const text = await response.text();
  return { status: response.status, retryAfter: response.headers.get("retry-after"), body: text.startsWith("{") ? JSON.parse(text) : text };
}

const setMode = (mode: string, reason?: string) =>
  call("/api/admin/mode", { method: "PUT", token: ADMIN, headers: { "content-type": "application/json" }, body: JSON.stringify({ mode, ...(reason ? { reason } : {}) }) });

beforeAll(async () => {
  callers = await seededDemo();
  await useConfig({ ADMIN_TOKEN: ADMIN, METRICS_TOKEN: METRICS });
  server = await serve();
  const agents = await call("/api/agents?limit=1", { token: callers.demo.token });
  agentPath = `/api/agents/${agents.body.data[0].id}`;
});
afterAll(async () => {
  await setPlatformMode("normal", null);
  await server.close();
});

describe("the admin endpoint", () => {
  it("refuses without the admin token, and names a bad mode", async () => {
    expect((await call("/api/admin/mode")).status).toBe(401);
    expect((await call("/api/admin/mode", { token: "wrong-token-0123456789" })).status).toBe(401);
    expect(await setMode("closed")).toMatchObject({ status: 400, body: { error: { code: "BAD_REQUEST", message: expect.stringContaining("mode must be one of normal, read-only, maintenance") } } });
    expect((await setMode("read-only", "x".repeat(201))).status).toBe(400);
    expect(await call("/api/admin/mode", { token: ADMIN })).toMatchObject({ status: 200, body: { mode: "normal" } });
  });
});

describe("read-only", () => {
  it("serves reads and refuses writes with 503 READ_ONLY, the reason and Retry-After", async () => {
    expect(await setMode("read-only", "restoring from backup")).toMatchObject({ status: 200, body: { mode: "read-only", reason: "restoring from backup" } });
    expect((await call(agentPath, { token: callers.demo.token })).status).toBe(200);
    expect((await call("/api/agents", { token: callers.demo.token })).status).toBe(200);
    const patch = await call(agentPath, { method: "PATCH", token: callers.demo.token, headers: { "content-type": "application/json" }, body: '{"name":"renamed"}' });
    expect(patch).toMatchObject({
      status: 503,
      retryAfter: "30",
      body: { error: { code: "READ_ONLY", message: "The platform is read-only: restoring from backup" } },
    });
    await setMode("normal");
    const allowed = await call(agentPath, { method: "PATCH", token: callers.demo.token, headers: { "content-type": "application/json" }, body: '{"name":"renamed"}' });
    expect(allowed.status).toBe(200);
  });
});

describe("maintenance", () => {
  it("closes the API but not health, metrics or the admin endpoint, and shows in the metrics", async () => {
    await setMode("maintenance");
    for (const pathname of [agentPath, "/api/agents", `/api/conversations/${crypto.randomUUID()}/messages`]) {
      expect(await call(pathname, { token: callers.demo.token })).toMatchObject({ status: 503, retryAfter: "30", body: { error: { code: "MAINTENANCE", message: "The platform is in maintenance" } } });
    }
    expect(await call("/api/health")).toMatchObject({ status: 200, body: { status: "ok", mode: "maintenance" } });
    const metrics = await call("/api/metrics", { token: METRICS });
    expect(metrics.body).toContain('gap_platform_mode{mode="maintenance"} 1');
    expect(metrics.body).toContain('gap_platform_mode{mode="normal"} 0');
    await setMode("normal");
    expect((await call(agentPath, { token: callers.demo.token })).status).toBe(200);
  });
});

describe("the mode across instances", () => {
  it("reaches another instance within the 5-second memo, and keeps the last known mode when the store fails", async () => {
    resetPlatformMode();
    const start = Date.now();
    expect((await platformMode(start)).mode).toBe("normal");
    // Another instance writes the store directly; this one reads it at its next refresh.
    await cacheStore().set("gap:platform-mode", JSON.stringify({ mode: "maintenance", reason: "elsewhere", since: new Date().toISOString() }), 60);
    expect((await platformMode(start + MODE_MEMO_MS - 1)).mode).toBe("normal");
    expect(await platformMode(start + MODE_MEMO_MS)).toMatchObject({ mode: "maintenance", reason: "elsewhere" });
    vi.spyOn(console, "log").mockImplementation(() => undefined);
    vi.spyOn(cacheStore(), "mget").mockRejectedValue(new Error("store down"));
    expect((await platformMode(start + 2 * MODE_MEMO_MS)).mode).toBe("maintenance");
    vi.restoreAllMocks();
    await setPlatformMode("normal", null);
  });
});

describe("npm run platform:mode", () => {
  const run = (args: string[], env: Record<string, string> = {}) => runScript("mode", args, { ADMIN_TOKEN: ADMIN, ...env });

  it("sets and shows the mode of the platform at --url, and fails with one line", async () => {
    const set = await run(["read-only", "--reason", "migrating", "--url", server.baseUrl]);
    expect(set).toMatchObject({ code: 0, stdout: expect.stringMatching(/^mode: read-only \(migrating\), since \d{4}-/) });
    expect((await platformMode()).mode).toBe("read-only");
    expect(await run(["--url", server.baseUrl])).toMatchObject({ code: 0, stdout: expect.stringMatching(/^mode: read-only \(migrating\)/) });
    expect(await run(["normal", "--url", server.baseUrl])).toMatchObject({ code: 0, stdout: expect.stringMatching(/^mode: normal, since /) });
    expect(await run(["closed"])).toMatchObject({ code: 2, stderr: expect.stringContaining("the mode must be one of normal, read-only, maintenance") });
    expect(await run(["normal", "--url", server.baseUrl], { ADMIN_TOKEN: "wrong-token-0123456789" })).toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/^error: http:\/\/127\.0\.0\.1:\d+ answered 401: a valid bearer admin token is required\n$/),
    });
    const closed = `http://127.0.0.1:${await freePort()}`;
    expect(await run(["--url", closed])).toMatchObject({ code: 1, stderr: `error: cannot reach ${closed} (ECONNREFUSED): is the platform running there?\n` });
  });
});
