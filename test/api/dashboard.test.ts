/** /api/ops: the dashboard's sign-in, its guard on every endpoint, and the numbers it answers with, against a real history. */
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { seedHistory } from "../../scripts/demo/history.js";
import { takeStatsSnapshot } from "../../functions/stats-snapshot.js";
import { newSession, sessionToken } from "../../lib/auth/ops-session.js";
import { platformAlerts } from "../../lib/alerts/alerts.js";
import { recordedDelivery } from "../../lib/alerts/delivery.js";
import { statementRegressions } from "../../lib/db/inspect/regressions.js";
import { directDb } from "../../lib/db/pool.js";
import { SIGN_IN_LIMITS } from "../../lib/http/admin-token.js";
import { setPlatformMode } from "../../lib/platform/mode.js";
import { useConfig } from "../harness/config.js";
import { TEST_DATABASE_URL } from "../harness/file-database.js";
import { requestFrom, serve, type RunningServer } from "../harness/http.js";

const ADMIN = "dashboard-admin-token-0123456789";
let server: RunningServer;

/** Every endpoint of the dashboard, as a signed-out caller would try it. */
const ENDPOINTS: Array<[string, string, unknown?]> = [
  ["GET", "/api/ops/session"],
  ["GET", "/api/ops/overview"],
  ["GET", "/api/ops/statements"],
  ["GET", "/api/ops/statements/-7000000000000000001"],
  ["GET", "/api/ops/connections"],
  ["GET", "/api/ops/activity"],
  ["GET", "/api/ops/space"],
  ["GET", "/api/ops/findings"],
  ["GET", "/api/ops/tune"],
  ["GET", "/api/ops/backups"],
  ["GET", "/api/ops/mode"],
  ["PUT", "/api/ops/mode", { mode: "maintenance" }],
  ["POST", "/api/ops/statements/1/explain", { params: [] }],
  ["POST", "/api/ops/sessions/1", { action: "terminate" }],
];

interface Answer {
  status: number;
  headers: Headers;
  body: { error?: { code: string; message: string } } & Record<string, unknown>;
}

async function call(
  method: string,
  pathname: string,
  { body, cookie, token, origin, address = "127.0.0.1" }: { body?: unknown; cookie?: string; token?: string; origin?: string; address?: string } = {},
): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers["content-type"] = "application/json";
  if (cookie) headers.cookie = cookie;
  if (token) headers.authorization = `Bearer ${token}`;
  if (origin) headers.origin = origin;
  // The server judges the TCP peer's address: a test that needs another sends from another loopback address.
  const response = await requestFrom(address, `${server.baseUrl}${pathname}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: response.status, headers: response.headers, body: (response.text.startsWith("{") ? JSON.parse(response.text) : {}) as Answer["body"] };
}

async function signIn(address = "127.0.0.1"): Promise<string> {
  const answer = await call("POST", "/api/ops/session", { body: { token: ADMIN }, origin: server.baseUrl, address });
  expect(answer.status).toBe(200);
  const session = answer.headers.getSetCookie().find((c) => c.startsWith("gap_ops_session="));
  return session?.split(";")[0] ?? "";
}

beforeAll(async () => {
  await useConfig({ ADMIN_TOKEN: ADMIN });
  // Three days: a deploy two days in, with the first three statements three times slower under it.
  await seedHistory(directDb(), { days: 3, statements: 40, backups: true });
  server = await serve();
});
afterAll(async () => {
  await setPlatformMode("normal", null);
  await server.close();
});

describe("signed out", () => {
  it("every /api/ops endpoint answers 401 in the one error shape, saying nothing more", async () => {
    for (const [method, pathname, body] of ENDPOINTS) {
      const answer = await call(method, pathname, { body });
      expect(answer.status, `${method} ${pathname}`).toBe(401);
      expect(answer.body.error?.code, pathname).toBe("UNAUTHORIZED");
      expect(answer.headers.get("cache-control") ?? "no-store", pathname).toBe("no-store");
    }
  });

  it("is told nothing about the input a route takes: bad input from a stranger is a 401, never a 400 naming the schema", async () => {
    const bad: Array<[string, string, unknown?]> = [
      ["GET", "/api/ops/overview?window=forever"],
      ["GET", "/api/ops/statements?window=forever&extra=1"],
      ["GET", "/api/ops/statements/not-a-number"],
      ["GET", "/api/ops/connections?window=1y"],
      ["GET", "/api/ops/space?window=1y"],
      ["GET", "/api/ops/backups?window=1y"],
      ["PUT", "/api/ops/mode", { mode: "closed", extra: true }],
      ["POST", "/api/ops/sessions/0", { action: "explode" }],
      ["PUT", "/api/admin/mode", { mode: "closed" }],
    ];
    for (const [method, pathname, body] of bad) {
      const answer = await call(method, pathname, { body });
      expect(answer.status, `${method} ${pathname}`).toBe(401);
      expect(answer.body.error?.message, pathname).toBe("sign in with the admin token, or send Authorization: Bearer <ADMIN_TOKEN>");
    }
  });

  it("a forged, expired or other token's cookie is no session", async () => {
    const expired = await sessionToken(ADMIN, newSession(new Date(Date.now() - 13 * 3600 * 1000)));
    const otherToken = await sessionToken("another-admin-token-0123456789", newSession());
    // Rightly signed, but for a session the server never opened.
    const neverOpened = await sessionToken(ADMIN, newSession());
    for (const value of [expired, otherToken, neverOpened, "not.a.jwt", `${neverOpened.slice(0, -2)}xx`]) {
      expect((await call("GET", "/api/ops/overview", { cookie: `gap_ops_session=${value}` })).status).toBe(401);
    }
  });
});

describe("sign-in", () => {
  it("sets an HttpOnly, SameSite=Strict session cookie on /api/ops for 12 hours, and a hint the page may read", async () => {
    const answer = await call("POST", "/api/ops/session", { body: { token: ADMIN }, origin: server.baseUrl, address: "127.0.0.2" });
    expect(answer.status).toBe(200);
    const [session, hint] = answer.headers.getSetCookie();
    expect(session).toMatch(/^gap_ops_session=[\w-]+\.[\w-]+\.[\w-]+; Path=\/api\/ops; Max-Age=43200; SameSite=Strict; HttpOnly$/);
    expect(hint).toMatch(/^gap_ops_signed_in=\d+; Path=\/; Max-Age=43200; SameSite=Strict$/);
    const cookie = session?.split(";")[0] ?? "";
    expect(await call("GET", "/api/ops/session", { cookie })).toMatchObject({ status: 200, body: { signedIn: true } });
    const out = await call("DELETE", "/api/ops/session", { cookie });
    expect(out.headers.getSetCookie()).toEqual([
      expect.stringMatching(/^gap_ops_session=; Path=\/api\/ops; Max-Age=0;/),
      expect.stringMatching(/^gap_ops_signed_in=; Path=\/; Max-Age=0;/),
    ]);
  });

  it("marks the cookie Secure when the page is served over https", async () => {
    const { POST } = await import("../../api/ops/session.js");
    const response = await POST(
      new Request("https://ops.example/api/ops/session", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ token: ADMIN }),
      }),
    );
    expect(response.headers.getSetCookie().every((cookie) => cookie.endsWith("; Secure") || cookie.includes("; Secure;"))).toBe(true);
  });

  it("answers a wrong token with a bare 401, and after five from one address a 429 before the token is even compared", async () => {
    const address = "127.0.0.7";
    for (let i = 0; i < SIGN_IN_LIMITS.perAddress; i++) {
      const wrong = await call("POST", "/api/ops/session", { body: { token: `wrong-${i}` }, origin: server.baseUrl, address });
      expect(wrong.status).toBe(401);
      expect(wrong.body.error?.message).toBe("sign in with the admin token, or send Authorization: Bearer <ADMIN_TOKEN>");
      expect(wrong.headers.getSetCookie()).toEqual([]);
    }
    const limited = await call("POST", "/api/ops/session", { body: { token: ADMIN }, origin: server.baseUrl, address });
    expect(limited.status).toBe(429);
    expect(limited.headers.get("retry-after")).toBe(String(SIGN_IN_LIMITS.windowSeconds));
    // Another address is not held back by this one's mistakes.
    expect((await call("POST", "/api/ops/session", { body: { token: ADMIN }, origin: server.baseUrl, address: "127.0.0.8" })).status).toBe(200);
  });

  it("refuses a sign-in posted from another origin, and a body that is not a token", async () => {
    expect((await call("POST", "/api/ops/session", { body: { token: ADMIN }, origin: "https://evil.example" })).status).toBe(403);
    expect(await call("POST", "/api/ops/session", { body: { password: ADMIN } })).toMatchObject({
      status: 400,
      body: { error: { message: "token is required" } },
    });
  });
});

describe("signed in", () => {
  let cookie: string;
  beforeAll(async () => {
    cookie = await signIn();
  });

  it("takes the cookie or the bearer admin token, never a wrong bearer", async () => {
    expect((await call("GET", "/api/ops/overview", { cookie })).status).toBe(200);
    expect((await call("GET", "/api/ops/overview", { token: ADMIN })).status).toBe(200);
    expect((await call("GET", "/api/ops/overview", { token: "wrong-admin-token-0123456789", cookie })).status).toBe(401);
  });

  it("names a bad window, query id or pid, and a statement never recorded is a 404", async () => {
    expect(await call("GET", "/api/ops/overview?window=2h", { cookie })).toMatchObject({
      status: 400,
      body: { error: { message: "window must be one of 1h, 24h, 7d, 14d" } },
    });
    expect(await call("GET", "/api/ops/statements/abc", { cookie })).toMatchObject({ status: 400, body: { error: { message: "id must be a whole number" } } });
    expect((await call("GET", "/api/ops/statements/99999999999999999999", { cookie })).status).toBe(400);
    expect(await call("GET", "/api/ops/statements/12345", { cookie })).toMatchObject({ status: 404, body: { error: { code: "NOT_FOUND" } } });
    expect((await call("POST", "/api/ops/sessions/0", { cookie, origin: server.baseUrl, body: { action: "cancel" } })).status).toBe(400);
    expect(await call("POST", "/api/ops/sessions/123", { cookie, origin: server.baseUrl, body: { action: "kill" } })).toMatchObject({
      status: 400,
      body: { error: { message: "action must be cancel or terminate" } },
    });
  });

  it("answers the overview with the newest snapshot's judgements and the window's series", async () => {
    const { body } = await call("GET", "/api/ops/overview?window=24h", { cookie });
    const [newest] = await directDb()<{ metric: string; value: number; status: string }[]>`
      select metric, value, status from ops.threshold_results
      where snapshot_id = (select id from ops.db_stats_snapshots order by taken_at desc limit 1) and metric = 'statement_p95_ms'`;
    const metrics = body.targetMetrics as Array<{ metric: string; now: { value: number; status: string } | null }>;
    expect(metrics.map((m) => m.metric)).toEqual([
      "statement_p95_ms",
      "connection_pool_usage_ratio",
      "active_connections",
      "slow_queries_per_hour",
      "lock_wait_ms",
    ]);
    expect(metrics[0]?.now).toMatchObject({ value: newest?.value, status: newest?.status });
    const series = body.series as { t: number[]; values: Record<string, number[]> };
    expect(series.t.length).toBeGreaterThanOrEqual(280);
    expect(series.t.length).toBeLessThanOrEqual(289);
    expect(Math.max(...(series.values.statement_p95_ms ?? []))).toBe(640);
    const alerts = body.alerts as { history: Array<{ key: string; status: string }> };
    expect(alerts.history.map((a) => a.status)).toContain("firing");
    // The history's backups run nightly at 03:00 UTC, so the newest is up to a day and some minutes old: judged by its age, whatever the time of day.
    const [newestBackup] = await directDb()<{ age: number }[]>`
      select extract(epoch from now() - max(finished_at))::float8 as age from ops.backups where status = 'succeeded'`;
    const recoveryPoint = body.recoveryPoint as { status: string; ageSeconds: number; rpoSeconds: number };
    expect(recoveryPoint.rpoSeconds).toBe(86_400);
    expect(Math.abs(recoveryPoint.ageSeconds - (newestBackup?.age ?? 0))).toBeLessThan(5);
    expect(recoveryPoint.status).toBe(recoveryPoint.ageSeconds > 86_400 ? "late" : "ok");
    // The seeded history ends one to two slots before now: the snapshots are fresh.
    const snapshots = body.snapshots as { status: string; ageSeconds: number; staleAfterSeconds: number; takenAt: string };
    expect(snapshots).toMatchObject({ status: "ok", staleAfterSeconds: 900 });
    expect(snapshots.ageSeconds).toBeGreaterThan(0);
    expect(snapshots.ageSeconds).toBeLessThan(900);
    expect((body.drills as { newestSucceeded: { recoverySeconds: number } | null }).newestSucceeded?.recoverySeconds).toBeGreaterThan(6);
  });

  it("says so when the snapshots stop coming: their schedule is not running", async () => {
    await directDb()`update ops.db_stats_snapshots set taken_at = taken_at - interval '2 hours'`;
    try {
      const { body } = await call("GET", "/api/ops/overview?window=24h", { cookie });
      const snapshots = body.snapshots as { status: string; ageSeconds: number };
      expect(snapshots.status).toBe("stale");
      expect(snapshots.ageSeconds).toBeGreaterThan(7200);
    } finally {
      await directDb()`update ops.db_stats_snapshots set taken_at = taken_at + interval '2 hours'`;
    }
  });

  it("ranks the window's statements from the rollups exactly as the snapshots add up", async () => {
    const { body } = await call("GET", "/api/ops/statements?window=24h", { cookie });
    const top = (body.statements as Array<{ queryId: string; calls: number; totalMs: number; shareOfTotal: number }>)[0];
    const [expected] = await directDb()<{ calls: number; totalMs: number; share: number }[]>`
      with w as (
        select queryid, sum(calls) as calls, sum(total_ms) as total_ms
        from ops.query_stats where taken_at >= date_trunc('hour', now() - interval '24 hours', 'UTC')
        group by queryid
      )
      select calls::float8 as calls, round(total_ms::numeric, 3)::float8 as "totalMs", round((total_ms / (select sum(total_ms) from w))::numeric, 4)::float8 as share
      from w where queryid = ${top?.queryId ?? "0"}::bigint`;
    expect(top).toMatchObject({ calls: expected?.calls, totalMs: expected?.totalMs, shareOfTotal: expected?.share });
    const byCalls = (await call("GET", "/api/ops/statements?window=24h&sort=calls", { cookie })).body.statements as Array<{ calls: number }>;
    expect(byCalls.map((s) => s.calls)).toEqual([...byCalls.map((s) => s.calls)].sort((a, b) => b - a));
    const sparklines = body.sparklines as { t: number[]; values: Record<string, Array<number | null>> };
    expect(sparklines.values[`calls:${top?.queryId}`]?.filter((v) => v !== null).length).toBeGreaterThan(200);
  });

  it("lists statements as PgHero does: sorted by any column, searched, all of them, the platform's own hideable, with their roles", async () => {
    const list = async (query: string) =>
      (await call("GET", `/api/ops/statements?window=7d&${query}`, { cookie })).body as {
        database: string;
        matched: number;
        statements: Array<{ queryId: string; query: string; roles: string[]; calls: number; meanMs: number }>;
      };
    // One of the platform's own statements (on ops.*), run today.
    await directDb()`insert into ops.query_texts (queryid, query, roles) values (-42, 'select id from ops.backups where status = $1', array['postgres'])`;
    await directDb()`insert into ops.query_stats_daily (day, queryid, calls, total_ms) values (date_trunc('day', now(), 'UTC'), -42, 12, 30)`;
    const all = await list("limit=all");
    expect(all.matched).toBeGreaterThan(40);
    expect(all.statements).toHaveLength(all.matched);
    expect((await list("")).statements).toHaveLength(20);
    const [database] = await directDb()<{ name: string; role: string }[]>`select current_database() as name, current_user as role`;
    expect(all.database).toBe(database?.name);
    const history = all.statements.find((s) => s.query.includes("/* history 1 */"));
    expect(history?.roles).toEqual([database?.role]);
    const mean = (await list("sort=mean&limit=all")).statements;
    expect(mean.map((s) => s.meanMs)).toEqual([...mean.map((s) => s.meanMs)].sort((a, b) => b - a));
    expect(mean.every((s) => s.calls >= 10)).toBe(true);
    const found = await list("q=ANALYTICS_EVENTS&limit=all");
    expect(found.matched).toBeGreaterThan(0);
    expect(found.statements.every((s) => s.query.toLowerCase().includes("analytics_events"))).toBe(true);
    expect((await list(`q=${encodeURIComponent("no such text ' or 1=1 --")}`)).matched).toBe(0);
    const platformOwn = all.statements.filter((s) => /\bops\./i.test(s.query));
    expect(platformOwn.map((s) => s.queryId)).toContain("-42");
    const hidden = await list("platform=hide&limit=all");
    expect(hidden.matched).toBe(all.matched - platformOwn.length);
    expect(hidden.statements.some((s) => /\bops\./i.test(s.query))).toBe(false);
    for (const bad of ["sort=name", "limit=7", "platform=maybe", `q=${"x".repeat(201)}`]) {
      const answer = await call("GET", `/api/ops/statements?${bad}`, { cookie });
      expect(answer.status, bad).toBe(400);
      expect(answer.body.error?.code, bad).toBe("BAD_REQUEST");
    }
  });

  it("marks the regression at the deploy that caused it on the statement's page", async () => {
    const { status, body } = await call("GET", "/api/ops/statements/-7000000000000000001?window=7d", { cookie });
    expect(status).toBe(200);
    const effects = body.deployEffects as Array<{ regression: boolean; meanMsBefore: number; meanMsAfter: number }>;
    expect(effects).toHaveLength(1);
    expect(effects[0]).toMatchObject({ regression: true });
    expect(effects[0]?.meanMsAfter).toBeCloseTo((effects[0]?.meanMsBefore ?? 0) * 3, 1);
    expect(body.plan).toMatchObject({
      plan: null,
      reason: expect.stringMatching(/pg_stat_statements no longer holds this statement|statement statistics unavailable/),
    });
    const unaffected = await call("GET", "/api/ops/statements/-7000000000000000004?window=7d", { cookie });
    expect((unaffected.body.deployEffects as Array<{ regression: boolean }>)[0]?.regression).toBe(false);
    // The snapshot job's check finds the same three, from the hourly rollups around the deploy.
    const regressions = await statementRegressions(directDb());
    expect(regressions.map((r) => r.queryId).sort()).toEqual(["-7000000000000000001", "-7000000000000000002", "-7000000000000000003"]);
    expect(regressions[0]?.meanMsAfter).toBeCloseTo((regressions[0]?.meanMsBefore ?? 0) * 3, 3);
  });

  it.skipIf(!inject("embedded"))("shows a statement pg_stat_statements still holds with its generic plan and the index advice for it", async () => {
    for (let i = 0; i < 3; i++) await directDb()`select count(*) from analytics_events where event_type = ${`dashboard-${i}`} and properties ? 'plan'`;
    await takeStatsSnapshot({ at: new Date(Date.now() + 5 * 60_000) });
    const [text] = await directDb()<
      { id: string }[]
    >`select queryid::text as id from ops.query_texts where query like '%from analytics_events where event_type = $1 and properties ? $2%'`;
    const { status, body } = await call("GET", `/api/ops/statements/${text?.id}?window=1h`, { cookie });
    expect(status).toBe(200);
    expect(body.plan).toMatchObject({ plan: expect.stringMatching(/Scan .*on public\.analytics_events/) });
    expect(body.advice).toMatchObject({
      note: expect.stringMatching(/^(an index cuts the plan's cost by \d+%|no index cuts this plan's cost by half or more)$/),
    });
  });

  it("lists the backups with every copy, the drills, space and findings", async () => {
    const backups = await call("GET", "/api/ops/backups?window=7d", { cookie });
    const runs = backups.body.backups as Array<{ status: string; copies: Array<{ location: string; status: string }> }>;
    expect(runs.length).toBeGreaterThanOrEqual(2);
    expect(runs[0]?.copies.map((c) => c.location.split(":")[0])).toEqual(["file", "s3"]);
    // The newest drill's throughput applied to the database's size now: the recovery time a disaster would take today.
    const [drill] = await directDb()<{ seconds: number; bytes: number; size: number }[]>`
      select recovery_seconds as seconds, restored_bytes::float8 as bytes, pg_database_size(current_database())::float8 as size
      from ops.dr_drills where status = 'succeeded' and restored_bytes > 0 order by finished_at desc limit 1`;
    const time = backups.body.recoveryTime as { projectedSeconds: number; rtoSeconds: number; status: string; throughputBytesPerSecond: number };
    expect(time.rtoSeconds).toBe(3600);
    expect(time.throughputBytesPerSecond).toBeCloseTo((drill?.bytes ?? 0) / (drill?.seconds ?? 1), 3);
    expect(time.projectedSeconds / (((drill?.size ?? 0) * (drill?.seconds ?? 0)) / (drill?.bytes ?? 1))).toBeCloseTo(1, 2);
    expect(time.status).toBe("ok");
    const space = await call("GET", "/api/ops/space?window=24h", { cookie });
    expect(space.body.growth).toMatchObject({ bytesPerDay: expect.any(Number) });
    expect((space.body.relations as unknown[]).length).toBeGreaterThan(0);
    // Rows changed per snapshot, as numbers: the chart where a mass delete stands out.
    const changes = space.body.changes as { t: unknown[]; inserted: unknown[]; deleted: unknown[] };
    expect(changes.t.length).toBeGreaterThan(200);
    expect(changes.inserted).toHaveLength(changes.t.length);
    expect(changes.inserted.every((n) => typeof n === "number")).toBe(true);
    expect(space.body.largestLosses).toContainEqual(expect.objectContaining({ table: "analytics_events", deleted: 1200 }));
    const findings = await call("GET", "/api/ops/findings", { cookie });
    expect(findings.status).toBe(200);
    expect(Array.isArray(findings.body.findings)).toBe(true);
    const tune = await call("GET", "/api/ops/tune", { cookie });
    expect(tune.status).toBe(200);
    expect(tune.body.settings).toContainEqual(expect.objectContaining({ name: "shared_buffers", group: "memory" }));
  });

  it("runs EXPLAIN ANALYZE only from the dashboard's own origin, and refuses a body that is not the values of a statement", async () => {
    const path = "/api/ops/statements/-7000000000000000001/explain";
    expect((await call("POST", path, { cookie, body: { params: [] } })).status).toBe(403);
    expect((await call("POST", path, { cookie, body: { params: [] }, origin: "https://evil.example" })).status).toBe(403);
    for (const body of [
      { params: [1] },
      { params: "1" },
      { params: [], confirm: "yes" },
      { params: [], extra: 1 },
      { params: Array.from({ length: 101 }, () => "1") },
    ]) {
      const answer = await call("POST", path, { cookie, body, origin: server.baseUrl });
      expect(answer.status, JSON.stringify(body)).toBe(400);
      expect(answer.body.error?.code).toBe("BAD_REQUEST");
    }
    // The history's synthetic statement is not in pg_stat_statements: nothing to run, and said so.
    const answer = await call("POST", path, { cookie, body: { params: [] }, origin: server.baseUrl });
    expect(answer).toMatchObject({ status: 200, body: { ran: false, needsConfirmation: false } });
    expect(answer.body.reason).toMatch(/no longer holds this statement|statement statistics unavailable/);
    expect((await call("POST", "/api/ops/statements/not-a-number/explain", { cookie, body: { params: [] }, origin: server.baseUrl })).status).toBe(400);
  });

  it("changes the mode and signals a session only from the dashboard's own origin with the cookie; a bearer needs none", async () => {
    const body = { mode: "read-only", reason: "dashboard test" };
    expect(await call("PUT", "/api/ops/mode", { cookie, body })).toMatchObject({ status: 403, body: { error: { code: "FORBIDDEN" } } });
    expect((await call("PUT", "/api/ops/mode", { cookie, body, origin: "https://evil.example" })).status).toBe(403);
    expect(await call("PUT", "/api/ops/mode", { cookie, body, origin: server.baseUrl })).toMatchObject({
      status: 200,
      body: { mode: "read-only", reason: "dashboard test" },
    });
    expect(await call("PUT", "/api/ops/mode", { token: ADMIN, body: { mode: "normal" } })).toMatchObject({ status: 200, body: { mode: "normal" } });

    const victim = postgres(TEST_DATABASE_URL, { max: 1, onnotice: () => undefined });
    const [{ pid } = { pid: 0 }] = await victim<{ pid: number }[]>`select pg_backend_pid() as pid`;
    const sleeping = victim`select pg_sleep(30)`.then(
      () => "finished",
      (e: { code?: string }) => e.code,
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect((await call("POST", `/api/ops/sessions/${pid}`, { cookie, body: { action: "cancel" } })).status).toBe(403);
    expect(await call("POST", `/api/ops/sessions/${pid}`, { cookie, origin: server.baseUrl, body: { action: "cancel" } })).toMatchObject({
      status: 200,
      body: { sent: true },
    });
    expect(await sleeping).toBe("57014");
    await victim.end();
    expect(await call("POST", "/api/ops/sessions/2147483647", { cookie, origin: server.baseUrl, body: { action: "cancel" } })).toMatchObject({ status: 404 });
  });
});

describe("what the dashboard reads is kept as it happens", () => {
  it("the snapshot job adds each snapshot's work to its hour and day", async () => {
    await takeStatsSnapshot({ at: new Date(Date.now() + 10 * 60_000) });
    await directDb()`select count(*) from ops.backups`;
    await takeStatsSnapshot({ at: new Date(Date.now() + 15 * 60_000) });
    const [mismatch] = await directDb()<{ n: number }[]>`
      with raw as (
        select date_trunc('hour', taken_at, 'UTC') as hour, queryid, sum(calls) as calls, sum(total_ms) as total_ms
        from ops.query_stats where queryid > 0 and calls > 0 group by 1, 2
      )
      select count(*)::int as n
      from raw full join (select * from ops.query_stats_hourly where queryid > 0) h using (hour, queryid)
      where raw.calls is distinct from h.calls or abs(raw.total_ms - h.total_ms) > 1e-6`;
    const [rolled] = await directDb()<{ n: number }[]>`select count(*)::int as n from ops.query_stats_hourly where queryid > 0`;
    expect(rolled?.n).toBeGreaterThan(0);
    expect(mismatch?.n).toBe(0);
  });

  it("every alert message is recorded in PostgreSQL, and one the database cannot take still goes out", async () => {
    const alerts = platformAlerts();
    expect(await alerts.raise({ key: "dashboard:test", summary: "a test alert" })).toBe("sent");
    expect(await alerts.clear("dashboard:test")).toBe("resolved");
    const recorded = await directDb()`select status, summary from ops.alert_events where key = 'dashboard:test' order by id`;
    expect(recorded).toEqual([
      { status: "firing", summary: "a test alert" },
      { status: "resolved", summary: "back to normal" },
    ]);
    const hanging = recordedDelivery(
      async () => ({ ok: true }),
      () => new Promise(() => undefined),
      50,
    );
    const started = performance.now();
    expect(await hanging({ key: "k", status: "firing", summary: "s", since: new Date().toISOString(), at: new Date().toISOString(), details: {} })).toEqual({
      ok: true,
    });
    expect(performance.now() - started).toBeLessThan(1000);
    const failing = recordedDelivery(
      async () => ({ ok: true }),
      () => Promise.reject(new Error("database down")),
    );
    expect(await failing({ key: "k", status: "firing", summary: "s", since: new Date().toISOString(), at: new Date().toISOString(), details: {} })).toEqual({
      ok: true,
    });
  });
});
