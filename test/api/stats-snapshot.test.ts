import { afterAll, beforeAll, describe, expect, inject, it, vi } from "vitest";
import { SNAPSHOT_INTERVAL_MS, slotOf, takeStatsSnapshot } from "../../functions/stats-snapshot.js";
import { overrideConfig } from "../../lib/config.js";
import { closeDbPools, directDb } from "../../lib/db/pool.js";
import { TEST_DATABASE_URL } from "../harness/file-database.js";
import { freePort } from "../harness/net.js";
import { webhookReceiver, type WebhookReceiver } from "../harness/webhook.js";
import { useConfig } from "../harness/config.js";
import { blockedSession } from "../harness/locks.js";
import { serve, type RunningServer } from "../harness/http.js";

const SECRET = "cron-secret-0123456789abcdef";
let server: RunningServer;

beforeAll(async () => {
  await useConfig({ CRON_SECRET: SECRET, VERCEL_GIT_COMMIT_SHA: "abc123" });
  server = await serve();
});
afterAll(() => server.close());

async function cron(authorization?: string) {
  const response = await fetch(`${server.baseUrl}/api/cron/stats-snapshot`, { headers: authorization ? { authorization } : {} });
  return { status: response.status, body: JSON.parse(await response.text()) };
}

async function snapshotCount(): Promise<number> {
  const [row] = await directDb()`select count(*)::int as n from ops.db_stats_snapshots`;
  return row?.n ?? 0;
}

describe("GET /api/cron/stats-snapshot", () => {
  it("refuses callers without the cron secret with 401", async () => {
    expect((await cron()).status).toBe(401);
    expect((await cron("Bearer wrong-secret-0123456789")).status).toBe(401);
    expect(await snapshotCount()).toBe(0);
  });

  it("stores a snapshot once per 5-minute slot: a duplicate delivery changes nothing", async () => {
    const first = await cron(`Bearer ${SECRET}`);
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ status: "taken", slot: slotOf(new Date()).toISOString() });
    const [snapshot] = await directDb()`select deploy_id, database_size_bytes, connections_by_state from ops.db_stats_snapshots`;
    expect(snapshot?.deploy_id).toBe("abc123");
    expect(Number(snapshot?.database_size_bytes)).toBeGreaterThan(1_000_000);
    expect(snapshot?.connections_by_state).toHaveProperty("active");

    const again = await cron(`Bearer ${SECRET}`);
    expect(again.body).toMatchObject({ status: "duplicate" });
    expect(await snapshotCount()).toBe(1);
  });
});

describe.skipIf(!inject("embedded"))("statement work between snapshots", () => {
  const later = (slots: number) => new Date(Date.now() + slots * SNAPSHOT_INTERVAL_MS);
  const probe = (times: number) => Promise.all(Array.from({ length: times }, () => directDb()`select count(*) from agents as snapshot_delta_probe`));

  async function probeWork(snapshotId: string) {
    const [row] = await directDb()`
      select s.calls::int as calls, s.total_ms, s.cumulative_calls::int as cumulative
      from ops.query_stats s join ops.query_texts t using (queryid)
      where s.snapshot_id = ${snapshotId} and t.query like '%snapshot_delta_probe%'`;
    return row;
  }

  it("counts each statement's calls since the previous snapshot, and a reset as new work, never negative", async () => {
    await takeStatsSnapshot({ at: later(1) });
    await probe(5);
    const second = await takeStatsSnapshot({ at: later(2) });
    if (second.status !== "taken") throw new Error("expected a snapshot");
    expect(await probeWork(second.snapshotId)).toMatchObject({ calls: 5, cumulative: 5 });

    await probe(3);
    const third = await takeStatsSnapshot({ at: later(3) });
    if (third.status !== "taken") throw new Error("expected a snapshot");
    expect(await probeWork(third.snapshotId)).toMatchObject({ calls: 3, cumulative: 8 });

    const [{ queryid } = { queryid: "" }] = await directDb()`select queryid::text from ops.query_texts where query like '%snapshot_delta_probe%'`;
    const [{ schema } = { schema: "public" }] = await directDb()<{ schema: string }[]>`
      select n.nspname as schema from pg_extension e join pg_namespace n on n.oid = e.extnamespace where e.extname = 'pg_stat_statements'`;
    await directDb()`select ${directDb()(schema)}.pg_stat_statements_reset(0, 0, ${queryid}::bigint)`;
    await probe(2);
    const fourth = await takeStatsSnapshot({ at: later(4) });
    if (fourth.status !== "taken") throw new Error("expected a snapshot");
    expect(await probeWork(fourth.snapshotId)).toMatchObject({ calls: 2, cumulative: 2 });

    const [negative] = await directDb()`select count(*)::int as n from ops.query_stats where calls < 0 or total_ms < 0`;
    expect(negative?.n).toBe(0);
    const [texts] = await directDb()`select count(*)::int as n from ops.query_texts where query like '%snapshot_delta_probe%'`;
    expect(texts?.n).toBe(1);
  });
});

describe("retention", () => {
  it("prunes statement history past 14 days and snapshots past 90, keeping the rest", async () => {
    const [old] = await directDb()`
      insert into ops.db_stats_snapshots (slot, taken_at, connections_by_state, database_size_bytes, blocked_sessions, longest_transaction_seconds, xid_age)
      values (now() - interval '100 days', now() - interval '100 days', '{}', 1, 0, 0, 1)
      returning id`;
    const [recent] = await directDb()`
      insert into ops.db_stats_snapshots (slot, taken_at, connections_by_state, database_size_bytes, blocked_sessions, longest_transaction_seconds, xid_age)
      values (now() - interval '20 days', now() - interval '20 days', '{}', 1, 0, 0, 1)
      returning id`;
    await directDb()`insert into ops.query_texts (queryid, query) values (-42, 'select retention') on conflict do nothing`;
    await directDb()`
      insert into ops.query_stats (snapshot_id, queryid, calls, total_ms, cumulative_calls, cumulative_total_ms, taken_at)
      values (${recent?.id}, -42, 1, 1, 1, 1, now() - interval '20 days')`;
    const result = await takeStatsSnapshot({ at: new Date(Date.now() + 40 * SNAPSHOT_INTERVAL_MS) });
    expect(result).toMatchObject({ status: "taken", pruned: { queryStats: 1, snapshots: 1 } });
    const left = await directDb()`select id from ops.db_stats_snapshots where id in (${old?.id}, ${recent?.id})`;
    expect(left.map((r) => r.id)).toEqual([recent?.id]);
  });
});

describe("thresholds", () => {
  it("judges each snapshot's window, stores every result and logs a breach", async () => {
    const session = await blockedSession("threshold_locked", { settleMs: 250 });
    const logged = vi.spyOn(console, "error").mockImplementation(() => undefined);
    const result = await takeStatsSnapshot({ at: new Date(Date.now() + 60 * SNAPSHOT_INTERVAL_MS) });
    await session.release();
    if (result.status !== "taken") throw new Error("expected a snapshot");

    const metrics = result.thresholds.map((t) => t.metric);
    expect(metrics).toEqual(expect.arrayContaining(["connection_pool_usage_ratio", "active_connections", "lock_wait_ms"]));
    if (inject("embedded")) expect(metrics).toEqual(expect.arrayContaining(["statement_p95_ms", "slow_queries_per_hour"]));
    expect(result.thresholds.find((t) => t.metric === "lock_wait_ms")).toMatchObject({ status: "alert" });
    const stored = await directDb()`
      select metric, status, value from ops.threshold_results where snapshot_id = ${result.snapshotId} order by metric`;
    expect(stored.map((r) => r.metric)).toEqual([...metrics].sort());
    // On a loaded machine another figure may breach too: the lock wait's own line is the one to find.
    const breaches = logged.mock.calls.map((c) => String(c[0])).filter((line) => line.includes("threshold breached"));
    expect(breaches.find((line) => line.includes('"metric":"lock_wait_ms"'))).toContain('"status":"alert"');
    logged.mockRestore();
  });
});

describe("alerts", () => {
  let hook: WebhookReceiver;
  type Sent = { alert: { key: string; status: string; summary: string } };
  const sent = (key: string) => hook.received.map((r) => (r.body as Sent).alert).filter((alert) => alert.key === key);
  beforeAll(async () => {
    hook = await webhookReceiver();
    await useConfig({ ALERT_WEBHOOK_URL: hook.url });
  });
  afterAll(async () => {
    await useConfig({ ALERT_WEBHOOK_URL: "" });
    await hook.close();
  });

  it("fires a threshold alert once while the figure stays above its alert level, and resolves it when it falls back", async () => {
    vi.spyOn(console, "error").mockImplementation(() => undefined);
    const session = await blockedSession("alert_locked", { settleMs: 250 });
    await takeStatsSnapshot({ at: new Date(Date.now() + 100 * SNAPSHOT_INTERVAL_MS) });
    await takeStatsSnapshot({ at: new Date(Date.now() + 101 * SNAPSHOT_INTERVAL_MS) });
    await session.release();
    expect(sent("threshold:lock_wait_ms").map((a) => a.status)).toEqual(["firing"]);
    expect(sent("threshold:lock_wait_ms")[0]?.summary).toMatch(/^lock_wait_ms is \d+(\.\d+)? ms, above its alert level of 100 \(target 10\)$/);
    await takeStatsSnapshot({ at: new Date(Date.now() + 102 * SNAPSHOT_INTERVAL_MS) });
    expect(sent("threshold:lock_wait_ms").map((a) => a.status)).toEqual(["firing", "resolved"]);
    vi.restoreAllMocks();
  });

  it("fires job:stats-snapshot when the cron's snapshot fails, once, and resolves it with the next success", async () => {
    vi.spyOn(console, "error").mockImplementation(() => undefined);
    const closed = new URL(TEST_DATABASE_URL);
    closed.port = String(await freePort());
    // The alert state lives in the cache store: only the database moves away (useConfig would reset the store).
    await closeDbPools(0);
    overrideConfig({ DATABASE_URL: closed.toString(), DB_CONNECTION_TIMEOUT: "500" });
    const refused = await cron(`Bearer ${SECRET}`);
    expect(refused).toMatchObject({ status: 503, body: { error: { code: "SERVICE_UNAVAILABLE" } } });
    expect((await cron(`Bearer ${SECRET}`)).status).toBe(503);
    await closeDbPools(0);
    overrideConfig({ DATABASE_URL: TEST_DATABASE_URL, DB_CONNECTION_TIMEOUT: "" });
    expect((await cron(`Bearer ${SECRET}`)).status).toBe(200);
    expect(sent("job:stats-snapshot").map((a) => [a.status, a.summary])).toEqual([
      ["firing", expect.stringMatching(/^job stats-snapshot failed: .*\(ECONNREFUSED|POOL_TIMEOUT|DB_UNAVAILABLE/)],
      ["resolved", "job stats-snapshot succeeded"],
    ]);
    vi.restoreAllMocks();
  });
});

describe.skipIf(!inject("embedded"))("statement texts", () => {
  it("are stored, shown and backed up without the literals of a utility statement (a password) or a running query", async () => {
    const { inspectionReport } = await import("../../functions/inspection-report.js");
    const role = `gap_redaction_${process.pid}`;
    await directDb()`drop role if exists ${directDb()(role)}`;
    await directDb().unsafe(`create role ${role} login password 'initial-hunter2'`);
    await directDb().unsafe(`alter role ${role} with password 'rotated-hunter2'`);
    await directDb().unsafe(`set app.api_key = 'session-hunter2'`);
    const running = directDb()`select pg_sleep(1.5), 'running-hunter2' as label`.execute();
    await new Promise((resolve) => setTimeout(resolve, 300));
    await takeStatsSnapshot({ at: new Date(Date.now() + 200 * SNAPSHOT_INTERVAL_MS) });
    const report = await inspectionReport(directDb(), ["statements", "queries"], {});
    await running;
    await directDb()`drop role ${directDb()(role)}`;

    const texts = await directDb()<{ query: string }[]>`select query from ops.query_texts where query ilike '%role%' or query ilike '%app.api_key%'`;
    expect(texts.map((t) => t.query)).toEqual(expect.arrayContaining([`alter role ${role} with password '***'`, "set app.api_key = '***'"]));
    const [stored] = await directDb()`select count(*)::int as n from ops.query_texts where query like '%hunter2%'`;
    expect(stored?.n).toBe(0);
    const shown = JSON.stringify(report);
    expect(shown.match(/.{0,80}hunter2.{0,40}/g) ?? []).toEqual([]);
    expect(shown).toContain("select pg_sleep(***), '***' as label");
  });
});
