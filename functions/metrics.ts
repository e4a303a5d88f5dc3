/**
 * The Prometheus exposition of the database and the platform: postgres_exporter's names
 * where one exists, `gap_` for ours. Built per scrape in a registry of its own, merged with
 * the process's counters (the agent cache). A database out of reach is `pg_up 0`, not an error.
 */
import { Gauge, Registry } from "prom-client";
import { databaseFigures } from "../lib/db/inspect/figures.js";
import { metricsRegistry } from "../lib/metrics/registry.js";
import { probed } from "../lib/db/inspect/probe.js";
import { SLOW_STATEMENT, statementsAvailability, topStatements } from "../lib/db/inspect/statements.js";
import { directDb } from "../lib/db/pool.js";
import { log } from "../lib/log.js";
import { MODES, platformMode } from "../lib/platform/mode.js";

/** Per-statement series only for this many statements: bounded cardinality. */
const TOP_STATEMENTS = 10;
const SCRAPE_TIMEOUT_MS = 2000;

export interface Exposition {
  contentType: string;
  body: string;
}

/**
 * postgres_exporter's `pg_stat_activity_count` and `pg_locks_count` are untyped: as gauges
 * their `_count` suffix, which Prometheus reserves for histograms and summaries, fails
 * `promtool check metrics`. prom-client prints whatever type `get()` reports.
 */
class UntypedGauge<L extends string> extends Gauge<L> {
  override async get(): ReturnType<Gauge<L>["get"]> {
    const family = await super.get();
    return { ...family, type: "untyped" as unknown as typeof family.type };
  }
}

function gauges(registry: Registry) {
  const gauge = <L extends string>(name: string, help: string, labelNames: readonly L[] = []) =>
    new Gauge<L>({ name, help, labelNames, registers: [registry] });
  const untyped = <L extends string>(name: string, help: string, labelNames: readonly L[]) =>
    new UntypedGauge<L>({ name, help, labelNames, registers: [registry] });
  return {
    up: gauge("pg_up", "Whether the database answered this scrape"),
    size: gauge("pg_database_size_bytes", "Disk space used by the database", ["datname"]),
    activity: untyped("pg_stat_activity_count", "Client connections by state", ["datname", "state"]),
    locks: untyped("pg_locks_count", "Locks held or awaited, by mode", ["datname", "mode"]),
    usage: gauge("gap_connection_usage_ratio", "Client connections over max_connections minus reserved slots"),
    longestTransaction: gauge("gap_longest_transaction_seconds", "Age of the oldest open transaction"),
    blocked: gauge("gap_blocked_sessions", "Sessions waiting for a lock another session holds"),
    lockWait: gauge("gap_lock_wait_seconds", "Longest current wait for a lock"),
    cacheHit: gauge("gap_cache_hit_ratio", "Block reads served from shared buffers", ["kind"]),
    mode: gauge("gap_platform_mode", "1 for the platform's current mode, 0 for the others", ["mode"]),
    statementMean: gauge("gap_statement_mean_seconds", `Mean time of the ${TOP_STATEMENTS} statements with the most total time`, ["queryid"]),
    /** Created only with a value: prom-client prints an unset gauge as 0, which would be a claim. */
    whenKnown: (name: string, help: string, value: number | undefined | null) => {
      if (value !== undefined && value !== null) gauge(name, help).set(value);
    },
  };
}

async function collect(registry: Registry): Promise<void> {
  const g = gauges(registry);
  const { mode } = await platformMode();
  for (const each of MODES) g.mode.set({ mode: each }, each === mode ? 1 : 0);
  try {
    const figures = await probed(directDb(), (tx) => databaseFigures(tx), SCRAPE_TIMEOUT_MS);
    const datname = figures.database;
    g.up.set(1);
    g.size.set({ datname }, figures.sizeBytes);
    for (const [state, count] of Object.entries(figures.activityByState)) g.activity.set({ datname, state }, count);
    for (const [mode, count] of Object.entries(figures.locksByMode)) g.locks.set({ datname, mode }, count);
    for (const [stat, value] of Object.entries(figures.stats)) {
      new Gauge({ name: `pg_stat_database_${stat}`, help: `pg_stat_database.${stat}`, labelNames: ["datname"], registers: [registry] }).set({ datname }, Number(value));
    }
    const clients = Object.values(figures.activityByState).reduce((sum, n) => sum + n, 0);
    g.usage.set(clients / figures.usableConnections);
    g.longestTransaction.set(figures.longestTransactionSeconds);
    g.blocked.set(figures.blockedSessions);
    g.lockWait.set(figures.longestLockWaitSeconds);
    if (figures.tableCacheHitRatio !== null) g.cacheHit.set({ kind: "table" }, figures.tableCacheHitRatio);
    if (figures.indexCacheHitRatio !== null) g.cacheHit.set({ kind: "index" }, figures.indexCacheHitRatio);
    const { statement_p95_ms: p95Ms, slow_queries_per_hour: slowPerHour } = figures.latestJudgements;
    g.whenKnown("gap_last_snapshot_timestamp_seconds", "Unix time of the newest stats snapshot", figures.lastSnapshotAt);
    g.whenKnown("gap_last_successful_backup_timestamp_seconds", "Unix time the newest successful backup finished", figures.lastSuccessfulBackupAt);
    g.whenKnown("gap_last_dr_drill_timestamp_seconds", "Unix time the newest successful disaster-recovery drill finished", figures.lastDrillAt);
    g.whenKnown("gap_dr_drill_recovery_seconds", "Recovery time the newest successful disaster-recovery drill measured", figures.lastDrillRecoverySeconds);
    g.whenKnown("gap_statement_p95_seconds", "p95 statement time over the newest snapshot's window", p95Ms === undefined ? undefined : p95Ms / 1000);
    g.whenKnown("gap_slow_statements_per_hour", `Calls of statements averaging ${SLOW_STATEMENT.minMeanMs} ms or more, per hour, in the newest snapshot's window`, slowPerHour);
    const statements = await probed(directDb(), async (tx) => {
      const availability = await statementsAvailability(tx);
      return availability.available ? topStatements(tx, availability.schema, { order: "total", limit: TOP_STATEMENTS }) : [];
    }, SCRAPE_TIMEOUT_MS);
    for (const statement of statements) g.statementMean.set({ queryid: statement.queryId }, statement.meanMs / 1000);
  } catch (error) {
    g.up.set(0);
    log.warn("metrics scrape could not read the database", { error });
  }
}

export async function metricsExposition(): Promise<Exposition> {
  const scrape = new Registry();
  await collect(scrape);
  const merged = Registry.merge([metricsRegistry, scrape]);
  return { contentType: merged.contentType, body: await merged.metrics() };
}
