/**
 * The Prometheus exposition of the database and the platform. Series under postgres_exporter's
 * names are published as it publishes them for PostgreSQL 15 (type, labels, label values, zeros
 * included, a `server` label of the database's host:port), so the postgres-mixin's rules and
 * dashboards read them unchanged; `gap_` series are the platform's own. Built per scrape in a
 * registry of its own, merged with the process's counters. A database out of reach is `pg_up 0`.
 */
import { Counter, Gauge, Registry } from "prom-client";
import { config } from "../lib/config.js";
import { newestLostShares } from "../lib/data/table-changes.js";
import {
  BGWRITER_STATS,
  DATABASE_STATS,
  exporterFigures,
  statementCounters,
  TABLE_COUNTERS,
  TABLE_GAUGES,
  TABLE_IO_COUNTERS,
  type ExporterFigures,
} from "../lib/db/inspect/exporter.js";
import { databaseFigures, type DatabaseFigures } from "../lib/db/inspect/figures.js";
import { probed } from "../lib/db/inspect/probe.js";
import { SLOW_STATEMENT, statementsAvailability, topStatements } from "../lib/db/inspect/statements.js";
import { directDb } from "../lib/db/pool.js";
import { log } from "../lib/log.js";
import { PROCESS_COUNTERS } from "../lib/metrics/registry.js";
import { MODES, platformMode } from "../lib/platform/mode.js";

/** Per-statement series only for this many statements: bounded cardinality. */
const TOP_STATEMENTS = 50;
/** gap_statement_mean_seconds keeps to the ten with the most total time. */
const TOP_MEANS = 10;
const SCRAPE_TIMEOUT_MS = 2000;

export interface Exposition {
  contentType: string;
  body: string;
}

type Labels = Record<string, string>;

/** A gauge printed as `untyped`, as postgres_exporter types some families (prom-client prints what get() reports). */
class UntypedGauge extends Gauge {
  override async get(): ReturnType<Gauge["get"]> {
    const family = await super.get();
    return { ...family, type: "untyped" as unknown as typeof family.type };
  }
}

/** Families of one scrape: each made once, with its type, and set label set by label set. */
function families(registry: Registry) {
  const made = new Map<string, Gauge | Counter>();
  const family = (kind: "gauge" | "counter" | "untyped", name: string, help: string, labels: Labels) => {
    let metric = made.get(name);
    if (!metric) {
      const options = { name, help, labelNames: Object.keys(labels), registers: [registry] };
      metric = kind === "gauge" ? new Gauge(options) : kind === "untyped" ? new UntypedGauge(options) : new Counter(options);
      made.set(name, metric);
    }
    return metric;
  };
  return {
    gauge: (name: string, help: string, labels: Labels, value: number | null | undefined) => {
      if (value === null || value === undefined || Number.isNaN(value)) return;
      (family("gauge", name, help, labels) as Gauge).set(labels, value);
    },
    untyped: (name: string, help: string, labels: Labels, value: number) => {
      (family("untyped", name, help, labels) as Gauge).set(labels, value);
    },
    /** A cumulative value read from the server: a new counter per scrape, brought to it. */
    counter: (name: string, help: string, labels: Labels, value: number | null | undefined) => {
      if (value === null || value === undefined || Number.isNaN(value) || value < 0) return;
      (family("counter", name, help, labels) as Counter).inc(labels, value);
    },
  };
}

type Families = ReturnType<typeof families>;

/** The database's `host:port`, the `server` label postgres_exporter puts on every series of it. */
function serverLabel(): string {
  const url = new URL(config().databaseUrl ?? "postgres://localhost");
  return `${url.hostname.replace(/^\[(.*)\]$/, "$1")}:${url.port || "5432"}`;
}

/** A setting as postgres_exporter publishes it: booleans 1 or 0; times in seconds and sizes in bytes, the unit in the name. */
function settingSeries({ name, setting, unit, vartype }: ExporterFigures["settings"][number]): { name: string; value: number } | undefined {
  if (vartype === "bool") return { name, value: setting === "on" ? 1 : 0 };
  if (vartype !== "integer" && vartype !== "real") return undefined;
  const value = Number(setting);
  const seconds: Record<string, number> = { ms: 0.001, s: 1, min: 60, h: 3600, d: 86_400 };
  const bytes = /^(\d*)(B|kB|MB|GB|TB)$/.exec(unit);
  if (unit in seconds) return { name: `${name}_seconds`, value: value * (seconds[unit] ?? 1) };
  if (bytes) {
    const scale = { B: 1, kB: 1024, MB: 1024 ** 2, GB: 1024 ** 3, TB: 1024 ** 4 }[bytes[2] as "B" | "kB" | "MB" | "GB" | "TB"];
    return { name: `${name}_bytes`, value: value * Number(bytes[1] || 1) * scale };
  }
  return unit === "" ? { name, value } : undefined;
}

function publishExporterFamilies(f: Families, x: ExporterFigures, server: string): void {
  const short = /PostgreSQL (\d+)\.(\d+)/.exec(x.version);
  f.gauge("pg_postmaster_start_time_seconds", "Time at which postmaster started", { server }, x.postmasterStartSeconds);
  f.untyped("pg_static", "Version string as reported by postgres", { server, short_version: short ? `${short[1]}.${short[2]}.0` : "", version: x.version }, 1);
  for (const db of x.databases) {
    if (db.datid !== "0") f.gauge("pg_database_size_bytes", "Disk space used by the database", { datname: db.datname, server }, db.sizeBytes);
    for (const stat of DATABASE_STATS) {
      const labels = { datid: db.datid, datname: db.datname, server };
      if (stat === "numbackends") f.gauge(`pg_stat_database_${stat}`, "Number of backends currently connected to this database", labels, db[stat]);
      else f.counter(`pg_stat_database_${stat}`, `pg_stat_database.${stat}`, labels, db[stat]);
    }
  }
  for (const a of x.activity) {
    const labels = { datname: a.datname, server, state: a.state };
    f.gauge("pg_stat_activity_count", "number of connections in this state", labels, a.count);
    f.gauge("pg_stat_activity_max_tx_duration", "max duration in seconds any active transaction has been running", labels, a.maxTxDurationSeconds);
  }
  for (const l of x.locks) f.gauge("pg_locks_count", "Number of locks", { datname: l.datname, mode: l.mode, server }, l.count);
  for (const setting of x.settings) {
    const series = settingSeries(setting);
    if (series) f.gauge(`pg_settings_${series.name}`, `Server Parameter: ${setting.name}`, { server }, series.value);
  }
  for (const stat of BGWRITER_STATS) f.counter(`pg_stat_bgwriter_${stat}_total`, `pg_stat_bgwriter.${stat}`, { server }, x.bgwriter[stat]);
  for (const t of x.tables) {
    const labels = { datname: t.datname, relname: t.relname, schemaname: t.schemaname, server };
    for (const stat of TABLE_COUNTERS) f.counter(`pg_stat_user_tables_${stat}`, `pg_stat_user_tables.${stat}`, labels, t[stat]);
    for (const stat of TABLE_GAUGES) f.gauge(`pg_stat_user_tables_${stat}`, `pg_stat_user_tables.${stat}`, labels, t[stat]);
    for (const stat of TABLE_IO_COUNTERS) f.counter(`pg_statio_user_tables_${stat}`, `pg_statio_user_tables.${stat}`, labels, t[stat]);
  }
  f.gauge("pg_replication_lag", "Replication lag behind master in seconds", { server }, x.replication.lagSeconds);
  f.gauge("pg_replication_is_replica", "Indicates if the server is a replica", { server }, x.replication.isReplica ? 1 : 0);
  for (const s of x.replication.senders) {
    const labels = { application_name: s.applicationName, client_addr: s.clientAddr, server, state: s.state };
    f.gauge("pg_stat_replication_pg_current_wal_lsn_bytes", "WAL position in bytes", labels, s.currentWalLsnBytes);
    f.gauge("pg_stat_replication_pg_wal_lsn_diff", "Lag in bytes between master and slave", labels, s.walLsnDiff);
  }
  for (const s of x.replication.slots) {
    const labels = { database: s.database, server, slot_name: s.slotName };
    f.gauge("pg_replication_slots_active", "Flag indicating if the slot is active", labels, s.active);
    f.gauge("pg_replication_slots_pg_wal_lsn_diff", "Replication lag in bytes", labels, s.walLsnDiff);
  }
}

function publishPlatformFamilies(f: Families, d: DatabaseFigures): void {
  f.gauge(
    "gap_connection_usage_ratio",
    "Client connections of every database over max_connections minus reserved slots",
    {},
    d.serverClientConnections / d.usableConnections,
  );
  f.gauge(
    "gap_database_connection_usage_ratio",
    "This database's client connections over max_connections minus reserved slots",
    {},
    d.databaseClientConnections / d.usableConnections,
  );
  f.gauge("gap_active_connections", "This database's client connections running a statement now", {}, d.activityByState.active ?? 0);
  f.gauge("gap_longest_transaction_seconds", "Age of the oldest open transaction", {}, d.longestTransactionSeconds);
  f.gauge("gap_blocked_sessions", "Sessions waiting for a lock another session holds", {}, d.blockedSessions);
  f.gauge("gap_lock_wait_seconds", "Longest current wait for a lock", {}, d.longestLockWaitSeconds);
  f.gauge("gap_cache_hit_ratio", "Block reads served from shared buffers", { kind: "table" }, d.tableCacheHitRatio);
  f.gauge("gap_cache_hit_ratio", "Block reads served from shared buffers", { kind: "index" }, d.indexCacheHitRatio);
  // Absent until known: an unset value printed as 0 would be a claim.
  f.gauge("gap_last_snapshot_timestamp_seconds", "Unix time of the newest stats snapshot", {}, d.lastSnapshotAt);
  f.gauge("gap_last_successful_backup_timestamp_seconds", "Unix time the newest successful backup finished", {}, d.lastSuccessfulBackupAt);
  f.gauge("gap_last_dr_drill_timestamp_seconds", "Unix time the newest successful disaster-recovery drill finished", {}, d.lastDrillAt);
  f.gauge("gap_dr_drill_recovery_seconds", "Recovery time the newest successful disaster-recovery drill measured", {}, d.lastDrillRecoverySeconds);
  f.gauge(
    "gap_dr_recovery_throughput_bytes_per_second",
    "Database bytes the newest measuring drill restored per second of its recovery",
    {},
    d.drillRecoveryBytesPerSecond,
  );
  f.gauge(
    "gap_dr_projected_recovery_seconds",
    "Recovery time of this database at today's size, at the newest drill's throughput",
    {},
    d.projectedRecoverySeconds,
  );
  f.gauge("gap_dr_recovery_objective_seconds", "The recovery time objective, BACKUP_RTO_MINUTES", {}, config().backups.rtoSeconds);
  f.gauge(
    "gap_mass_delete_threshold_ratio",
    "ALERT_MASS_DELETE_SHARE: a table losing more of its rows in a snapshot's interval fires data:mass-delete",
    {},
    config().alerts.massDeleteShare,
  );
  const { statement_p95_ms: p95Ms, slow_queries_per_hour: slowPerHour } = d.latestJudgements;
  f.gauge("gap_statement_p95_seconds", "p95 statement time over the newest snapshot's window", {}, p95Ms === undefined ? undefined : p95Ms / 1000);
  f.gauge(
    "gap_slow_statements_per_hour",
    `Calls of statements averaging ${SLOW_STATEMENT.minMeanMs} ms or more, per hour, in the newest snapshot's window`,
    {},
    slowPerHour,
  );
}

async function collect(registry: Registry): Promise<void> {
  const f = families(registry);
  const { mode } = await platformMode();
  for (const each of MODES) f.gauge("gap_platform_mode", "1 for the platform's current mode, 0 for the others", { mode: each }, each === mode ? 1 : 0);
  try {
    const server = serverLabel();
    await probed(
      directDb(),
      async (tx) => {
        publishExporterFamilies(f, await exporterFigures(tx), server);
        publishPlatformFamilies(f, await databaseFigures(tx));
        for (const lost of await newestLostShares(tx)) {
          f.gauge(
            "gap_table_lost_rows_ratio",
            "Share of its rows a table lost, net of inserts, in the newest stats snapshot's interval",
            { schema: lost.schema, table: lost.table },
            lost.share,
          );
        }
        const availability = await statementsAvailability(tx);
        if (!availability.available) return;
        for (const s of await statementCounters(tx, availability.schema, { limit: TOP_STATEMENTS })) {
          const labels = { datname: s.datname, queryid: s.queryid, server, user: s.user };
          f.counter("pg_stat_statements_calls_total", "Number of times executed", labels, s.calls);
          f.counter("pg_stat_statements_seconds_total", "Total time spent in the statement, in seconds", labels, s.seconds);
          f.counter("pg_stat_statements_rows_total", "Total number of rows retrieved or affected by the statement", labels, s.rows);
          f.counter("pg_stat_statements_block_read_seconds_total", "Total time the statement spent reading blocks, in seconds", labels, s.blockReadSeconds);
          f.counter("pg_stat_statements_block_write_seconds_total", "Total time the statement spent writing blocks, in seconds", labels, s.blockWriteSeconds);
        }
        for (const s of await topStatements(tx, availability.schema, { order: "total", limit: TOP_MEANS })) {
          // Another role's statement has no query id for a role without pg_read_all_stats (README: privileges).
          if (s.queryId === null) continue;
          f.gauge(
            "gap_statement_mean_seconds",
            `Mean time of the ${TOP_MEANS} statements of this database with the most total time`,
            { queryid: s.queryId },
            s.meanMs / 1000,
          );
        }
      },
      SCRAPE_TIMEOUT_MS,
    );
    f.gauge("pg_up", "Whether the last scrape of the database was able to connect", {}, 1);
  } catch (error) {
    f.gauge("pg_up", "Whether the last scrape of the database was able to connect", {}, 0);
    log.warn("metrics scrape could not read the database", { error });
  }
}

export async function metricsExposition(): Promise<Exposition> {
  const scrape = new Registry();
  await collect(scrape);
  const f = families(scrape);
  for (const counter of PROCESS_COUNTERS) {
    for (const [value, count] of counter.entries()) f.counter(counter.name, counter.help, { [counter.label]: value }, count);
  }
  return { contentType: scrape.contentType, body: await scrape.metrics() };
}
