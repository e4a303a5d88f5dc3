/**
 * When the damage happened: each stats snapshot keeps the rows every table gained and lost
 * since the previous one, so a mass delete stands out with its 5-minute slot; `data:mass-delete`
 * fires when a table shrinks past ALERT_MASS_DELETE_SHARE, once, and resolves. Against a real
 * PostgreSQL's statistics.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Pool } from "../../lib/db/pool.js";
import { adminConnection } from "../harness/postgres-admin.js";
import { SNAPSHOT_INTERVAL_MS, takeStatsSnapshot } from "../../functions/stats-snapshot.js";
import { directDb } from "../../lib/db/pool.js";
import { quietConsole } from "../harness/console.js";
import { useConfig } from "../harness/config.js";
import { seededDemo, SMALL_DEMO } from "../harness/demo.js";
import { TEST_DATABASE_URL } from "../harness/file-database.js";
import { serve, type RunningServer } from "../harness/http.js";
import { runScript } from "../harness/scripts.js";
import { webhookReceiver, type WebhookReceiver } from "../harness/webhook.js";

const METRICS = "metrics-token-0123456789abcdef";
let hook: WebhookReceiver;
let server: RunningServer;
let slot = 0;
/** Each snapshot in a slot of its own, 5 minutes after the last. */
const snapshot = () => takeStatsSnapshot({ at: new Date(Date.now() + ++slot * SNAPSHOT_INTERVAL_MS) });
/**
 * Runs `write` on a connection of its own, closed after: a backend flushes its table statistics
 * when it exits (while it lives, PostgreSQL 15 may hold them back up to 10 s). Then waits until
 * the statistics show `table` with `liveRows` rows.
 */
async function written(table: string, write: (sql: Pool) => Promise<unknown>): Promise<void> {
  const sql = adminConnection(TEST_DATABASE_URL);
  try {
    await write(sql);
  } finally {
    await sql.end();
  }
  const [{ rows } = { rows: 0 }] = await directDb()<{ rows: number }[]>`select count(*)::int as rows from ${directDb()(table)}`;
  for (let waited = 0; waited < 15_000; waited += 100) {
    const [seen] = await directDb()<{ live: number }[]>`select n_live_tup::int as live from pg_stat_user_tables where relname = ${table}`;
    if (seen?.live === rows) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`the statistics never showed ${table} with ${rows} rows`);
}
const massDeleteAlerts = () =>
  hook.received.map((r) => (r.body as { alert: { key: string; status: string; summary: string } }).alert).filter((a) => a.key === "data:mass-delete");

beforeAll(async () => {
  hook = await webhookReceiver();
  await seededDemo({ ...SMALL_DEMO, messages: 1500 });
  await useConfig({ ALERT_WEBHOOK_URL: hook.url, METRICS_TOKEN: METRICS });
  server = await serve();
});
afterAll(async () => {
  await server.close();
  await hook.close();
});
beforeEach(() => quietConsole("error", "log", "warn"));

describe("row changes between snapshots", () => {
  it("start from a baseline: the first snapshot a table appears in counts none of its history", async () => {
    // The seed's reset leaves PostgreSQL's live-row estimate off until an ANALYZE, as autovacuum would run.
    await written("conversation_messages", (sql) => sql`analyze conversation_messages`);
    const first = await snapshot();
    expect(first).toMatchObject({ status: "taken", massDeletes: [] });
    expect(await directDb()`select * from ops.table_changes`).toEqual([]);
  });

  it("record one organization's messages deleted while another writes, and fire data:mass-delete once, then resolve", async () => {
    const [organization] = await directDb()<{ id: string }[]>`select id from organizations order by slug limit 1`;
    const [before] = await directDb()<{ n: number }[]>`select count(*)::int as n from conversation_messages`;
    let deleted = { count: 0 };
    await written("conversation_messages", async (sql) => {
      deleted = await sql`
        delete from conversation_messages m using conversations c
        where c.id = m.conversation_id and c.organization_id = ${organization?.id ?? ""}`;
      await sql`
        insert into conversation_messages (conversation_id, role, content)
        select c.id, 'user', 'written meanwhile' from conversations c where c.organization_id <> ${organization?.id ?? ""} limit 5`;
    });
    const taken = await snapshot();
    expect(taken).toMatchObject({
      status: "taken",
      massDeletes: [{ schema: "public", table: "conversation_messages", deleted: deleted.count, lost: deleted.count - 5, rowsBefore: before?.n }],
    });
    expect(deleted.count).toBeGreaterThan((before?.n ?? 0) * 0.2);
    const [change] = await directDb()`
      select inserted::int, deleted::int, rows_before::int as "rowsBefore" from ops.table_changes
      where table_name = 'conversation_messages' and snapshot_id = ${taken.status === "taken" ? taken.snapshotId : ""}`;
    expect(change).toEqual({ inserted: 5, deleted: deleted.count, rowsBefore: before?.n });
    expect(massDeleteAlerts()).toEqual([
      expect.objectContaining({
        status: "firing",
        summary: expect.stringMatching(
          new RegExp(
            `^in the 5 minutes to \\S+Z, public\\.conversation_messages lost ${deleted.count - 5} of ${before?.n} rows \\(\\d+%\\): more than 20% of a table`,
          ),
        ),
      }),
    ]);

    // The metric a Prometheus rule reads, for the newest interval.
    const metrics = await fetch(`${server.baseUrl}/api/metrics`, { headers: { authorization: `Bearer ${METRICS}` } }).then((r) => r.text());
    expect(metrics).toMatch(/^gap_table_lost_rows_ratio\{schema="public",table="conversation_messages"\} 0\.\d+$/m);
    expect(metrics).toMatch(/^gap_mass_delete_threshold_ratio 0\.2$/m);

    expect(await snapshot()).toMatchObject({ status: "taken", massDeletes: [] });
    expect(massDeleteAlerts().map((a) => a.status)).toEqual(["firing", "resolved"]);
  });

  it("take a churning table (as many rows inserted as deleted) for no loss", async () => {
    await directDb()`create table churn (id bigint generated always as identity primary key, body text)`;
    await written("churn", (sql) => sql`insert into churn (body) select 'x' from generate_series(1, 500)`);
    await snapshot();
    await written("churn", async (sql) => {
      await sql`delete from churn`;
      await sql`insert into churn (body) select 'y' from generate_series(1, 500)`;
    });
    const taken = await snapshot();
    expect(taken).toMatchObject({ status: "taken", massDeletes: [] });
    const [change] = await directDb()`select inserted::int, deleted::int from ops.table_changes where table_name = 'churn' order by snapshot_id desc limit 1`;
    expect(change).toEqual({ inserted: 500, deleted: 500 });
    await directDb()`drop table churn`;
  });

  it("show in db:inspect -- changes since a time, the largest delete first in its slot", async () => {
    const shown = await runScript("inspect", ["changes", "--since", "1h", "--json"], { DATABASE_URL: TEST_DATABASE_URL });
    expect(shown.code).toBe(0);
    const report = JSON.parse(shown.stdout) as { changes: { tables: { changes: Array<{ table: string; deleted: number; lostRatio: number }> } } };
    const messages = report.changes.tables.changes.find((c) => c.table === "conversation_messages" && c.deleted > 100);
    expect(messages?.lostRatio).toBeGreaterThan(0.2);
    const plain = await runScript("inspect", ["changes", "--since", "2026-01-01T00:00Z"], { DATABASE_URL: TEST_DATABASE_URL });
    expect(plain.stdout).toMatch(/^\s*takenAt\s+schema\s+table\s+inserted\s+updated\s+deleted\s+rowsBefore\s+lostRatio$/m);
    expect(await runScript("inspect", ["changes", "--since", "yesterday"], { DATABASE_URL: TEST_DATABASE_URL })).toMatchObject({
      code: 2,
      stderr: expect.stringContaining("--since must be a time (2026-12-06T03:00Z) or an age (90m, 6h, 3d)"),
    });
  });
});
