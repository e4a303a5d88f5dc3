/** Read-only and maintenance modes, switched through the admin endpoint and the command line. */
import { mkdir, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { Redis as RedisClient } from "ioredis";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { cacheStore, resetCacheStore } from "../../lib/cache/store.js";
import { MODE_MEMO_MS, platformMode, resetPlatformMode, setPlatformMode } from "../../lib/platform/mode.js";
import { useConfig } from "../harness/config.js";
import { seededDemo, type DemoCallers } from "../harness/demo.js";
import { serve, type RunningServer } from "../harness/http.js";
import { freePort } from "../harness/net.js";
import { runScript } from "../harness/scripts.js";
import { startUpstashBridge, type UpstashBridge } from "../fixtures/upstash-bridge.js";
import { TEST_LOCAL_DATA_DIR } from "../harness/file-database.js";
import { redisAvailable, redisDatabaseUrl } from "../harness/services.js";

const ADMIN = "admin-token-0123456789abcdef";
const REDIS_DB = 13;
const hasRedis = await redisAvailable();
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
  call("/api/admin/mode", {
    method: "PUT",
    token: ADMIN,
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ mode, ...(reason ? { reason } : {}) }),
  });

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
    expect(await setMode("closed")).toMatchObject({
      status: 400,
      body: { error: { code: "BAD_REQUEST", message: expect.stringContaining("mode must be one of normal, read-only, maintenance") } },
    });
    expect((await setMode("read-only", "x".repeat(201))).status).toBe(400);
    expect(await call("/api/admin/mode", { token: ADMIN })).toMatchObject({ status: 200, body: { mode: "normal" } });
  });
});

describe("read-only", () => {
  it("serves reads and refuses writes with 503 READ_ONLY, the reason and Retry-After", async () => {
    expect(await setMode("read-only", "restoring from backup")).toMatchObject({ status: 200, body: { mode: "read-only", reason: "restoring from backup" } });
    expect((await call(agentPath, { token: callers.demo.token })).status).toBe(200);
    expect((await call("/api/agents", { token: callers.demo.token })).status).toBe(200);
    const patch = await call(agentPath, {
      method: "PATCH",
      token: callers.demo.token,
      headers: { "content-type": "application/json" },
      body: '{"name":"renamed"}',
    });
    expect(patch).toMatchObject({
      status: 503,
      retryAfter: "30",
      body: { error: { code: "READ_ONLY", message: "The platform is read-only: restoring from backup" } },
    });
    await setMode("normal");
    const allowed = await call(agentPath, {
      method: "PATCH",
      token: callers.demo.token,
      headers: { "content-type": "application/json" },
      body: '{"name":"renamed"}',
    });
    expect(allowed.status).toBe(200);
  });
});

describe("maintenance", () => {
  it("closes the API but not health, metrics or the admin endpoint, and shows in the metrics", async () => {
    await setMode("maintenance");
    for (const pathname of [agentPath, "/api/agents", `/api/conversations/${crypto.randomUUID()}/messages`]) {
      expect(await call(pathname, { token: callers.demo.token })).toMatchObject({
        status: 503,
        retryAfter: "30",
        body: { error: { code: "MAINTENANCE", message: "The platform is in maintenance" } },
      });
    }
    expect(await call("/api/health")).toMatchObject({ status: 200, body: { status: "ok", mode: "maintenance" } });
    const metrics = await call("/api/metrics", { token: METRICS });
    expect(metrics.body).toContain('gap_platform_mode{mode="maintenance"} 1');
    expect(metrics.body).toContain('gap_platform_mode{mode="normal"} 0');
    await setMode("normal");
    expect((await call(agentPath, { token: callers.demo.token })).status).toBe(200);
  });
});

/**
 * Another instance's write, seen here within the 5-second memo; the last known mode kept while
 * the store cannot be read. `writeElsewhere` writes the store as another instance would.
 */
async function acrossInstances(writeElsewhere: (state: string) => Promise<void>, breakStore: () => Promise<() => Promise<void>>): Promise<void> {
  resetPlatformMode();
  const start = Date.now();
  expect((await platformMode(start)).mode).toBe("normal");
  await writeElsewhere(JSON.stringify({ mode: "maintenance", reason: "elsewhere", since: new Date().toISOString() }));
  expect((await platformMode(start + MODE_MEMO_MS - 1)).mode).toBe("normal");
  expect(await platformMode(start + MODE_MEMO_MS)).toMatchObject({ mode: "maintenance", reason: "elsewhere" });
  vi.spyOn(console, "log").mockImplementation(() => undefined);
  const repair = await breakStore();
  expect((await platformMode(start + 2 * MODE_MEMO_MS)).mode).toBe("maintenance");
  await repair();
  vi.restoreAllMocks();
  await setPlatformMode("normal", null);
}

describe("the mode across instances and restarts", () => {
  it("without Upstash (npm start, a worker): kept in LOCAL_DATA_DIR, read by another process within 5 s", async () => {
    const file = path.join(TEST_LOCAL_DATA_DIR, "platform-mode.json");
    await acrossInstances(
      (state) => writeFile(file, state),
      async () => {
        // A store that cannot be read: a folder where the file was.
        await rm(file, { force: true });
        await mkdir(file);
        return () => rm(file, { recursive: true, force: true });
      },
    );
  });

  it("without Upstash, survives a restart: with every in-memory state gone, the mode the last process set holds", async () => {
    await setPlatformMode("maintenance", "restoring", new Date("2026-12-06T03:00:00Z"));
    // What a restart loses: the memo and the in-process cache store (where the mode used to live).
    resetPlatformMode();
    resetCacheStore();
    expect(await platformMode()).toEqual({ mode: "maintenance", reason: "restoring", since: "2026-12-06T03:00:00.000Z" });
    expect(await call(agentPath, { token: callers.demo.token })).toMatchObject({ status: 503, body: { error: { code: "MAINTENANCE" } } });
    await setPlatformMode("normal", null);
  });

  describe.skipIf(!hasRedis)("with Upstash (a real Redis behind an Upstash-compatible bridge)", () => {
    let bridge: UpstashBridge;
    beforeAll(async () => {
      const redis = new RedisClient(redisDatabaseUrl(REDIS_DB));
      await redis.flushdb();
      redis.disconnect();
      bridge = await startUpstashBridge(redisDatabaseUrl(REDIS_DB));
      await useConfig({ ADMIN_TOKEN: ADMIN, METRICS_TOKEN: METRICS, UPSTASH_REDIS_REST_URL: bridge.url, UPSTASH_REDIS_REST_TOKEN: bridge.token });
    });
    afterAll(async () => {
      await useConfig({ UPSTASH_REDIS_REST_URL: "", UPSTASH_REDIS_REST_TOKEN: "" });
      await bridge.close();
    });

    it("kept in Upstash, read by another instance within 5 s, and the last known mode kept while Upstash fails", async () => {
      await acrossInstances(
        (state) => cacheStore().set("gap:platform-mode", state, 60),
        async () => {
          bridge.stall(true);
          return async () => bridge.stall(false);
        },
      );
    });

    it("survives a restart: a new instance reads it from Upstash", async () => {
      await setPlatformMode("read-only", "migrating");
      resetPlatformMode();
      resetCacheStore();
      expect(await platformMode()).toMatchObject({ mode: "read-only", reason: "migrating" });
      await setPlatformMode("normal", null);
    });
  });

  it("on Vercel without Upstash, is refused saying why: no place there outlives an instance", async () => {
    await useConfig({ ADMIN_TOKEN: ADMIN, METRICS_TOKEN: METRICS, VERCEL: "1" });
    try {
      const refused = await setMode("maintenance", "restoring");
      expect(refused).toMatchObject({
        status: 503,
        body: {
          error: {
            code: "SERVICE_UNAVAILABLE",
            message: expect.stringMatching(/^setting the mode on Vercel needs Upstash \(UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN\)/),
          },
        },
      });
      expect((await call("/api/admin/mode", { token: ADMIN })).body).toMatchObject({ mode: "normal" });
    } finally {
      await useConfig({ ADMIN_TOKEN: ADMIN, METRICS_TOKEN: METRICS, VERCEL: "" });
    }
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
      stderr: expect.stringMatching(
        /^error: http:\/\/127\.0\.0\.1:\d+ answered 401: sign in with the admin token, or send Authorization: Bearer <ADMIN_TOKEN>\n$/,
      ),
    });
    const closed = `http://127.0.0.1:${await freePort()}`;
    expect(await run(["--url", closed])).toMatchObject({ code: 1, stderr: `error: cannot reach ${closed} (ECONNREFUSED): is the platform running there?\n` });
  });
});
