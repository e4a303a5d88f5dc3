/**
 * Side by side with the real postgres_exporter on the same database: every family published
 * under its names must carry its type, its label names and its label values (zeros included),
 * so the dashboards and rules written for it read ours unchanged.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { directDb } from "../../lib/db/pool.js";
import { useConfig } from "../harness/config.js";
import { parsedExposition, type Family } from "../harness/exposition.js";
import { superuserDb, TEST_DATABASE_URL } from "../harness/file-database.js";
import { serve, type RunningServer } from "../harness/http.js";
import { EXPORTER, startPostgresExporter } from "../harness/postgres-exporter.js";
import { commandAvailable } from "../harness/services.js";

const TOKEN = "metrics-token-0123456789abcdef";
const SLOT = `gap_test_slot_${process.pid}`;
const withExporter = commandAvailable(EXPORTER);
const ownDatabase = new URL(TEST_DATABASE_URL).pathname.slice(1);

/** Families whose label values are left out of the comparison: the top statements may change between two scrapes. */
const VALUES_MOVE = new Set([
  "pg_stat_statements_calls_total",
  "pg_stat_statements_seconds_total",
  "pg_stat_statements_rows_total",
  "pg_stat_statements_block_read_seconds_total",
  "pg_stat_statements_block_write_seconds_total",
]);

/** What the mixin's rules and dashboard read: each must be a family both publish. */
const REQUIRED = [
  "pg_up",
  "pg_static",
  "pg_database_size_bytes",
  "pg_stat_activity_count",
  "pg_stat_activity_max_tx_duration",
  "pg_locks_count",
  "pg_settings_max_connections",
  "pg_settings_superuser_reserved_connections",
  "pg_settings_max_locks_per_transaction",
  "pg_settings_autovacuum_vacuum_scale_factor",
  "pg_settings_autovacuum_vacuum_threshold",
  "pg_stat_database_numbackends",
  "pg_stat_database_xact_commit",
  "pg_stat_database_xact_rollback",
  "pg_stat_database_blks_hit",
  "pg_stat_database_blks_read",
  "pg_stat_database_deadlocks",
  "pg_stat_database_conflicts",
  "pg_stat_bgwriter_checkpoints_timed_total",
  "pg_stat_bgwriter_checkpoints_req_total",
  "pg_stat_bgwriter_buffers_alloc_total",
  "pg_stat_user_tables_n_dead_tup",
  "pg_stat_user_tables_n_live_tup",
  "pg_stat_user_tables_seq_scan",
  "pg_statio_user_tables_heap_blks_hit",
  "pg_replication_lag",
  "pg_replication_slots_active",
  "pg_replication_slots_pg_wal_lsn_diff",
  "pg_stat_statements_calls_total",
  "pg_stat_statements_seconds_total",
  "pg_stat_statements_rows_total",
  "pg_stat_statements_block_read_seconds_total",
];

/**
 * Databases and replication slots other test files (of every project: they share the server)
 * make and drop while this one runs are not this comparison's business: their databases
 * (gap_test_*, the drill's gap_drill_*, a recovery's gap_recover_*) come and go between the
 * two scrapes.
 */
function stable(labels: Record<string, string>): boolean {
  const { datname, slot_name: slot } = labels;
  const otherDatabase = datname !== undefined && datname.startsWith("gap_") && datname !== ownDatabase && !datname.startsWith("gap_test_template_");
  // Every slot but this file's own: others' (gap_test_slot_*, gap_monitoring_slot_*...) come and go between the two scrapes.
  const otherSlot = slot !== undefined && slot !== SLOT;
  return !otherDatabase && !otherSlot;
}

function labelNames(family: Family): string[] {
  return [...new Set(family.samples.flatMap((sample) => Object.keys(sample.labels)))].sort();
}

function labelSets(family: Family): string[] {
  return family.samples
    .filter((sample) => stable(sample.labels))
    .map((sample) =>
      Object.entries(sample.labels)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([k, v]) => `${k}=${v}`)
        .join(","),
    )
    .sort();
}

let server: RunningServer;
beforeAll(async () => {
  await useConfig({ METRICS_TOKEN: TOKEN });
  server = await serve();
});
afterAll(() => server.close());

describe.skipIf(!withExporter)("the metrics endpoint beside the real postgres_exporter", () => {
  it("publishes every family it shares with the exporter with the exporter's type, label names and label values", async () => {
    // A replication slot needs the REPLICATION attribute, which a managed owner may lack: the
    // slot is the superuser's, the scrape the test role's.
    await superuserDb()`select pg_create_physical_replication_slot(${SLOT}, true)`;
    for (let i = 0; i < 3; i++) await directDb()`select count(*) from agents`;
    const exporter = await startPostgresExporter(TEST_DATABASE_URL);
    let theirs: Map<string, Family>;
    let ours: Map<string, Family>;
    try {
      theirs = parsedExposition(await exporter.scrape());
      const response = await fetch(`${server.baseUrl}/api/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
      ours = parsedExposition(await response.text());
    } finally {
      await exporter.stop();
      await superuserDb()`select pg_drop_replication_slot(${SLOT})`;
    }
    const shared = [...ours.keys()].filter((name) => theirs.has(name)).sort();
    expect(shared).toEqual(expect.arrayContaining(REQUIRED));
    for (const name of shared) {
      const [mine, real] = [ours.get(name), theirs.get(name)] as [Family, Family];
      expect(mine.type, `${name} type`).toBe(real.type);
      expect(labelNames(mine), `${name} label names`).toEqual(labelNames(real));
      if (!VALUES_MOVE.has(name)) expect(labelSets(mine), `${name} label values`).toEqual(labelSets(real));
    }
    // The zeros are there: every state of every database, every lock mode of this one.
    const activity = ours.get("pg_stat_activity_count")?.samples.filter((s) => s.labels.datname === ownDatabase) ?? [];
    expect(activity.map((s) => s.labels.state).sort()).toEqual([
      "active",
      "disabled",
      "fastpath function call",
      "idle",
      "idle in transaction",
      "idle in transaction (aborted)",
    ]);
    const locks = ours.get("pg_locks_count")?.samples.filter((s) => s.labels.datname === ownDatabase) ?? [];
    expect(locks).toHaveLength(9);
    // The scrape's own locks are not counted: a database nobody else uses holds none.
    expect(locks.every((s) => s.labels.mode !== "accesssharelock" || s.value === 0)).toBe(true);
  });
});
