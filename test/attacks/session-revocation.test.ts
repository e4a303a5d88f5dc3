/**
 * Signing out ends the session on the server: a copy of the cookie kept by someone else is
 * refused from then on, not honoured until it expires. Signing out everywhere (the dashboard,
 * or the bearer admin token) ends every session; so does a restore.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { markRestoredRecord } from "../../lib/data/backups.js";
import { directDb } from "../../lib/db/pool.js";
import { useConfig } from "../harness/config.js";
import { requestFrom, serve, type RunningServer } from "../harness/http.js";

const ADMIN = "revocation-admin-token-0123456789";
let server: RunningServer;

beforeAll(async () => {
  await useConfig({ ADMIN_TOKEN: ADMIN });
  server = await serve();
});
afterAll(() => server.close());

async function call(method: string, pathname: string, headers: Record<string, string> = {}, body?: unknown) {
  const answer = await requestFrom("127.0.0.1", `${server.baseUrl}${pathname}`, {
    method,
    headers: { ...(body === undefined ? {} : { "content-type": "application/json" }), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: answer.status, headers: answer.headers, body: JSON.parse(answer.text || "{}") as Record<string, unknown> };
}

async function signIn(): Promise<string> {
  const answer = await call("POST", "/api/ops/session", { origin: server.baseUrl }, { token: ADMIN });
  expect(answer.status).toBe(200);
  return answer.headers.getSetCookie()[0]?.split(";")[0] ?? "";
}

const overview = (cookie: string) => call("GET", "/api/ops/overview", { cookie });

describe("signing out", () => {
  it("ends that session: the same cookie, replayed, is refused everywhere", async () => {
    const cookie = await signIn();
    const other = await signIn();
    expect((await overview(cookie)).status).toBe(200);
    const out = await call("DELETE", "/api/ops/session", { cookie, origin: server.baseUrl });
    expect(out).toMatchObject({ status: 200, body: { signedIn: false, sessionsEnded: 1 } });
    expect((await overview(cookie)).status).toBe(401);
    expect((await call("GET", "/api/ops/session", { cookie })).status).toBe(401);
    expect((await call("PUT", "/api/ops/mode", { cookie, origin: server.baseUrl }, { mode: "normal" })).status).toBe(401);
    // Signing out again is harmless; another session goes on.
    expect(await call("DELETE", "/api/ops/session", { cookie })).toMatchObject({ status: 200, body: { sessionsEnded: 0 } });
    expect((await overview(other)).status).toBe(200);
  });

  it("everywhere: with the bearer admin token, every open session ends", async () => {
    const sessions = [await signIn(), await signIn()];
    const out = await call("DELETE", "/api/ops/session?everywhere=true", { authorization: `Bearer ${ADMIN}` });
    expect(out.status).toBe(200);
    expect(out.body.sessionsEnded).toBeGreaterThanOrEqual(2);
    for (const cookie of sessions) expect((await overview(cookie)).status).toBe(401);
  });

  it("everywhere: from the dashboard's origin with a session, and never for a stranger", async () => {
    const mine = await signIn();
    const theirs = await signIn();
    expect((await call("DELETE", "/api/ops/session?everywhere=true")).status).toBe(401);
    expect((await call("DELETE", "/api/ops/session?everywhere=true", { cookie: mine, origin: "https://evil.example" })).status).toBe(403);
    expect((await call("DELETE", "/api/ops/session?everywhere=maybe", { cookie: mine })).status).toBe(400);
    expect((await overview(theirs)).status).toBe(200);
    expect((await call("DELETE", "/api/ops/session?everywhere=true", { cookie: mine, origin: server.baseUrl })).status).toBe(200);
    for (const cookie of [mine, theirs]) expect((await overview(cookie)).status).toBe(401);
  });

  it("a restore ends every session", async () => {
    const cookie = await signIn();
    const sql = directDb();
    const [backup] = await sql<Array<{ id: string }>>`insert into ops.backups (status, started_at) values ('running', now()) returning id::text as id`;
    const restoredFrom = {
      backupId: backup?.id ?? "",
      finishedAt: new Date().toISOString(),
      location: "file:///tmp/x.dump",
      sizeBytes: 1,
      sha256: "0".repeat(64),
      encrypted: false,
    };
    await markRestoredRecord(sql, restoredFrom, []);
    expect((await overview(cookie)).status).toBe(401);
    const [ended] = await sql<Array<{ endedBy: string }>>`select ended_by as "endedBy" from ops.dashboard_sessions order by signed_in_at desc limit 1`;
    expect(ended?.endedBy).toBe("restore");
  });
});
