import { execFileSync } from "node:child_process";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { takeStatsSnapshot } from "../../functions/stats-snapshot.js";
import { directDb } from "../../lib/db/pool.js";
import { useConfig } from "../harness/config.js";
import { testTempDir } from "../harness/temp.js";
import { blockedSession } from "../harness/locks.js";
import { TEST_DATABASE_URL } from "../harness/file-database.js";
import { serve, type RunningServer } from "../harness/http.js";
import { commandAvailable } from "../harness/services.js";

const TOKEN = "metrics-token-0123456789abcdef";
let server: RunningServer;

beforeAll(async () => {
  await useConfig({ METRICS_TOKEN: TOKEN });
  server = await serve();
});
afterAll(() => server.close());

async function scrape(authorization?: string) {
  const response = await fetch(`${server.baseUrl}/api/metrics`, { headers: authorization ? { authorization } : {} });
  return { status: response.status, type: response.headers.get("content-type"), body: await response.text() };
}

function value(body: string, series: string): number | undefined {
  const line = body.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/** The database's `server` label, as postgres_exporter puts it on every series. */
const SERVER = (() => {
  const url = new URL(TEST_DATABASE_URL);
  return `${url.hostname}:${url.port || "5432"}`;
})();

describe("GET /api/metrics", () => {
  it("refuses scrapes without the token, or with a wrong one, with 401", async () => {
    expect((await scrape()).status).toBe(401);
    const wrong = await scrape("Bearer metrics-token-0123456789abcdeX");
    expect(wrong.status).toBe(401);
    expect(JSON.parse(wrong.body)).toMatchObject({ error: { code: "UNAUTHORIZED" } });
  });

  it("exposes the database under postgres_exporter's names and ours", async () => {
    const { status, type, body } = await scrape(`Bearer ${TOKEN}`);
    expect(status).toBe(200);
    expect(type).toContain("text/plain");
    expect(value(body, "pg_up")).toBe(1);
    const datname = new URL(TEST_DATABASE_URL).pathname.slice(1);
    expect(value(body, `pg_database_size_bytes{datname="${datname}",server="${SERVER}"}`)).toBeGreaterThan(1_000_000);
    expect(body).toMatch(new RegExp(`pg_stat_activity_count\\{datname="${datname}",server="${SERVER}",state="active"\\} [1-9]`));
    expect(body).toMatch(new RegExp(`pg_stat_database_xact_commit\\{datid="\\d+",datname="${datname}",server="${SERVER}"\\} \\d+`));
    expect(body).toMatch(new RegExp(`pg_locks_count\\{datname="${datname}",mode="accesssharelock",server="${SERVER}"\\} \\d+`));
    expect(value(body, `pg_settings_max_connections{server="${SERVER}"}`)).toBeGreaterThan(0);
    const usage = value(body, "gap_connection_usage_ratio") ?? -1;
    expect(usage).toBeGreaterThan(0);
    expect(usage).toBeLessThan(1);
    for (const name of ["gap_longest_transaction_seconds", "gap_blocked_sessions", "gap_lock_wait_seconds"]) {
      expect(value(body, name), name).toBeGreaterThanOrEqual(0);
    }
    expect(body).toContain("# TYPE gap_agent_cache_events_total counter");
  });

  it("shows a blocked session and its lock wait", async () => {
    const session = await blockedSession("metrics_locked");
    const { body } = await scrape(`Bearer ${TOKEN}`);
    await session.release();
    expect(value(body, "gap_blocked_sessions")).toBe(1);
    expect(value(body, "gap_lock_wait_seconds")).toBeGreaterThan(0.2);
    expect(value(body, "gap_longest_transaction_seconds")).toBeGreaterThan(0.2);
  });

  it("exposes the newest snapshot's time and judged figures once snapshots exist", async () => {
    const before = await scrape(`Bearer ${TOKEN}`);
    expect(before.body).not.toMatch(/^gap_last_snapshot_timestamp_seconds /m);
    await takeStatsSnapshot();
    await directDb()`
      insert into ops.threshold_results (snapshot_id, metric, value, status, target, alert_level)
      select max(id), 'statement_p95_ms', 250, 'warn', 100, 500 from ops.db_stats_snapshots
      union all
      select max(id), 'slow_queries_per_hour', 12, 'alert', 0, 5 from ops.db_stats_snapshots
      on conflict (snapshot_id, metric) do update set value = excluded.value`;
    const { body } = await scrape(`Bearer ${TOKEN}`);
    expect(Math.abs((value(body, "gap_last_snapshot_timestamp_seconds") ?? 0) - Date.now() / 1000)).toBeLessThan(60);
    expect(value(body, "gap_statement_p95_seconds")).toBe(0.25);
    expect(value(body, "gap_slow_statements_per_hour")).toBe(12);
  });

  it("exposes when the newest successful backup finished, leaving failures and runs in progress out", async () => {
    const before = await scrape(`Bearer ${TOKEN}`);
    expect(before.body).not.toMatch(/^gap_last_successful_backup_timestamp_seconds /m);
    await directDb()`
      insert into ops.backups (requested_at, started_at, finished_at, status, location, size_bytes, sha256, error) values
        ('2026-11-27 01:00Z', '2026-11-27 01:00Z', '2026-11-27 01:02Z', 'succeeded', 'file:///backups/a.dump', 1024, ${"a".repeat(64)}, null),
        ('2026-11-27 02:00Z', '2026-11-27 02:00Z', '2026-11-27 02:01Z', 'failed', null, null, null, 'pg_dump exited with code 1'),
        ('2026-11-27 03:00Z', '2026-11-27 03:00Z', null, 'running', null, null, null, null)`;
    const { body } = await scrape(`Bearer ${TOKEN}`);
    expect(value(body, "gap_last_successful_backup_timestamp_seconds")).toBe(Date.parse("2026-11-27T01:02:00Z") / 1000);
    await directDb()`delete from ops.backups`;
  });

  it.skipIf(!commandAvailable("promtool"))("parses with promtool, whose naming lint flags only the families kept as postgres_exporter names them", async () => {
    const { body } = await scrape(`Bearer ${TOKEN}`);
    const file = path.join(await testTempDir("gap-metrics-"), "metrics.txt");
    await writeFile(file, body);
    const output = execFileSync("sh", ["-c", `promtool check metrics < ${file} 2>&1; echo "exit=$?"`])
      .toString()
      .trim()
      .split("\n");
    // Exit 3 is lint only (1 would be a parse error): the exporter's own output draws the same.
    expect(output.at(-1)).toMatch(/^exit=(0|3)$/);
    const findings = output.slice(0, -1);
    expect(findings.length).toBeGreaterThan(0);
    for (const line of findings) {
      expect(line).toMatch(/^pg_\w+ (counter metrics should have "_total" suffix|non-histogram and non-summary metrics should not have "_count" suffix)$/);
    }
  });

  it("answers pg_up 0, not an error, when the database is out of reach", async () => {
    vi.spyOn(console, "log").mockImplementation(() => undefined);
    const closed = new URL(TEST_DATABASE_URL);
    closed.port = "1";
    await useConfig({ METRICS_TOKEN: TOKEN, DATABASE_URL: closed.toString(), DB_CONNECTION_TIMEOUT: "500" });
    const { status, body } = await scrape(`Bearer ${TOKEN}`);
    await useConfig({ DATABASE_URL: TEST_DATABASE_URL, DB_CONNECTION_TIMEOUT: "" });
    expect(status).toBe(200);
    expect(value(body, "pg_up")).toBe(0);
    vi.restoreAllMocks();
  });
});
