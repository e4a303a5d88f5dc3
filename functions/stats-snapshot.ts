/**
 * The stats-snapshot job (every 5 minutes): the database's figures and each statement's
 * work since the previous snapshot, stored in ops.*; then old history pruned in bounded
 * batches. Safe to run twice: a second delivery within the same 5-minute slot changes nothing.
 * Never resets pg_stat_statements.
 */
import { alertsSentAgain, platformAlerts, type Redelivery } from "../lib/alerts/alerts.js";
import { pruneAlertEvents } from "../lib/data/alert-events.js";
import { config } from "../lib/config.js";
import {
  insertSnapshot,
  pruneRollups,
  pruneQueryStats,
  pruneSnapshots,
  recordQueryStats,
  recordStatementsInfo,
  redactStoredTextsAgain,
  rollUpQueryStats,
  storeThresholdResults,
  windowFigures,
} from "../lib/data/stats-snapshots.js";
import { hiddenStatementsNote, statsVisibility } from "../lib/db/inspect/visibility.js";
import { probed } from "../lib/db/inspect/probe.js";
import type { Sql } from "../lib/db/pool.js";
import { planChangeRegressions, statementRegressions, type StatementRegression } from "../lib/db/inspect/regressions.js";
import { adviceCandidates } from "../lib/db/inspect/advice.js";
import { planFingerprints } from "../lib/db/inspect/plan-fingerprints.js";
import { pruneStatementPlans, recordPlanFingerprints, type PlanChange } from "../lib/data/statement-plans.js";
import { pruneMeasuredAdvice } from "../lib/data/measured-advice.js";
import { onOwnConnection } from "../lib/db/pool.js";
import { describedError } from "../lib/errors.js";
import { monitored } from "../lib/jobs/monitored.js";
import { log } from "../lib/log.js";
import type { DatabaseFigures } from "../lib/db/inspect/figures.js";
import { evaluatedThresholds, THRESHOLDS, type ThresholdResult } from "../lib/metrics/thresholds.js";
import { SLOW_STATEMENT, statementsAvailability } from "../lib/db/inspect/statements.js";
import { directDb } from "../lib/db/pool.js";
import { databaseFigures } from "../lib/db/inspect/figures.js";
import { recordTableChanges, type MassDelete } from "../lib/data/table-changes.js";
import { recordIndexSightings } from "../lib/data/index-sightings.js";
import { recordRelationSizes } from "../lib/data/relation-sizes.js";
import { recordSettings } from "../lib/data/settings-history.js";

export const SNAPSHOT_INTERVAL_MS = 5 * 60 * 1000;
/** A table must lose at least this many rows in an interval for `data:mass-delete`: a share of a tiny table is noise. */
export const MASS_DELETE_MIN_ROWS = 100;
const STATEMENT_TIMEOUT_MS = 20_000;
/** The statements, most total time first, whose plan fingerprint each snapshot records: the ones a plan change would hurt most. */
export const PLAN_FINGERPRINT_STATEMENTS = 20;
const PRUNE_BATCH = 5000;
const PRUNE_BATCHES_PER_RUN = 20;

export type SnapshotResult =
  | {
      status: "taken";
      snapshotId: string;
      slot: string;
      statements: number;
      statementsNote?: string;
      thresholds: ThresholdResult[];
      /** Tables that shrank by more than ALERT_MASS_DELETE_SHARE of their rows since the previous snapshot. */
      massDeletes: MassDelete[];
      /** Statements slower since the newest deploy (see statementRegressions). */
      regressions: StatementRegression[];
      /** The top statements' plan fingerprints recorded, and the plans that changed. */
      plans: PlansRecorded;
      /** Statements slower since their plan changed in the last 24 hours, each with its verdict. */
      planRegressions: Array<PlanChange & { verdict: string }>;
      pruned: Pruned;
      /** Alert messages earlier runs could not deliver, sent again (undefined when that could not be done this run). */
      alertsRedelivered: Redelivery | undefined;
    }
  | { status: "duplicate"; slot: string };

/** The 5-minute slot a time falls in. */
export function slotOf(at: Date): Date {
  return new Date(Math.floor(at.getTime() / SNAPSHOT_INTERVAL_MS) * SNAPSHOT_INTERVAL_MS);
}

export interface PlansRecorded {
  statements: number;
  changed: Array<{ queryId: string; from: string; to: string }>;
  ms: number;
  /** Why none were recorded this time, when that failed. */
  error?: string;
}

export interface Pruned {
  queryStats: number;
  statementPlans: number;
  measuredAdvice: number;
  hourly: number;
  daily: number;
  snapshots: number;
  alertEvents: number;
}

/** Rows deleted by `pruneBatch`, in batches, up to PRUNE_BATCHES_PER_RUN of them. */
async function pruned(pruneBatch: (batch: number) => Promise<number>): Promise<number> {
  let total = 0;
  for (let i = 0; i < PRUNE_BATCHES_PER_RUN; i++) {
    const deleted = await pruneBatch(PRUNE_BATCH);
    total += deleted;
    if (deleted < PRUNE_BATCH) break;
  }
  return total;
}

/** Per-statement history (snapshots and hours) kept for the query retention; days, snapshots and alert messages for the snapshot retention. */
async function prune(): Promise<Pruned> {
  const { queryRetentionDays, snapshotRetentionDays } = config().stats;
  return {
    queryStats: await pruned((batch) => pruneQueryStats(directDb(), queryRetentionDays, batch)),
    statementPlans: await pruned((batch) => pruneStatementPlans(directDb(), queryRetentionDays, batch)),
    measuredAdvice: await pruned((batch) => pruneMeasuredAdvice(directDb(), snapshotRetentionDays, batch)),
    hourly: await pruned((batch) => pruneRollups(directDb(), "hourly", queryRetentionDays, batch)),
    daily: await pruned((batch) => pruneRollups(directDb(), "daily", snapshotRetentionDays, batch)),
    snapshots: await pruned((batch) => pruneSnapshots(directDb(), snapshotRetentionDays, batch)),
    alertEvents: await pruned((batch) => pruneAlertEvents(directDb(), snapshotRetentionDays, batch)),
  };
}

/** The Target Metrics judged over the window that ends with this snapshot, stored with it. */
async function judgeWindow(tx: Sql, snapshotId: string, figures: DatabaseFigures): Promise<ThresholdResult[]> {
  const window = await windowFigures(tx, snapshotId, SLOW_STATEMENT.minMeanMs);
  const results = evaluatedThresholds({
    statement_p95_ms: window.statementP95Ms,
    // Every database's clients take slots from the same max_connections: judged server-wide.
    connection_pool_usage_ratio: figures.serverClientConnections / figures.usableConnections,
    active_connections: figures.activityByState.active ?? 0,
    slow_queries_per_hour: window.windowSeconds && window.slowCalls !== null ? (window.slowCalls * 3600) / window.windowSeconds : null,
    lock_wait_ms: figures.longestLockWaitSeconds * 1000,
  });
  await storeThresholdResults(tx, snapshotId, results);
  return results;
}

/**
 * Every judgement above target is a log line (warn for warn, error for alert); a figure
 * above its alert level fires `threshold:<metric>` until a snapshot finds it back under.
 */
async function reportThresholds(results: ThresholdResult[], slot: Date): Promise<void> {
  const alerts = platformAlerts();
  for (const result of results) {
    if (result.status === "alert") log.error("threshold breached", { ...result });
    else if (result.status === "warn") log.warn("threshold above target", { ...result });
    const key = `threshold:${result.metric}`;
    const { unit } = THRESHOLDS[result.metric];
    if (result.status !== "alert") {
      await alerts.clear(key, `${result.metric} is ${Number(result.value.toPrecision(4))} ${unit}, back under its alert level of ${result.alert}`);
      continue;
    }
    await alerts.raise({
      key,
      summary: `${result.metric} is ${Number(result.value.toPrecision(4))} ${unit}, above its alert level of ${result.alert} (target ${result.target})`,
      details: { ...result, slot: slot.toISOString() },
    });
  }
}

/** `data:mass-delete` while the newest interval has a table that shrank past the share, resolved by the next that has none. */
async function reportMassDeletes(massDeletes: MassDelete[], slot: Date): Promise<void> {
  const alerts = platformAlerts();
  if (!massDeletes.length) {
    await alerts.clear("data:mass-delete", "no table shrank past the share in the newest 5 minutes");
    return;
  }
  const share = config().alerts.massDeleteShare;
  const tables = massDeletes.map(
    (m) => `${m.schema}.${m.table} lost ${m.lost} of ${m.rowsBefore} rows (${Math.round((100 * m.lost) / Math.max(m.rowsBefore, 1))}%)`,
  );
  await alerts.raise({
    key: "data:mass-delete",
    summary: `in the 5 minutes to ${slot.toISOString()}, ${tables.join("; ")}: more than ${share * 100}% of a table (npm run db:inspect -- changes; docs/runbook.md, scenario 2)`,
    details: { slot: slot.toISOString(), share, tables: massDeletes },
  });
}

/**
 * The top statements' plan fingerprints, recorded with the snapshot, each change logged. Planned
 * on a connection of its own (nothing a plan did to the session reaches the pool); a failure is
 * logged and the snapshot stands.
 */
async function recordPlans(snapshotId: string, slot: Date): Promise<PlansRecorded> {
  const started = performance.now();
  const ms = () => Math.round(performance.now() - started);
  try {
    const fingerprints = await onOwnConnection((own) =>
      probed(
        own,
        async (tx) => {
          const statements = await statementsAvailability(tx);
          if (!statements.available) return [];
          const top = await adviceCandidates(tx, statements.schema, { minCalls: 1, minMeanMs: 0, limit: PLAN_FINGERPRINT_STATEMENTS });
          return planFingerprints(tx, top);
        },
        STATEMENT_TIMEOUT_MS,
      ),
    );
    const changed = await recordPlanFingerprints(directDb(), snapshotId, fingerprints);
    for (const change of changed) log.warn("statement plan changed", { ...change, slot: slot.toISOString() });
    return { statements: fingerprints.length, changed, ms: ms() };
  } catch (error) {
    log.error("recording plan fingerprints failed; the snapshot stands", { error });
    return { statements: 0, changed: [], ms: ms(), error: describedError(error) };
  }
}

export async function takeStatsSnapshot({ at = new Date() }: { at?: Date } = {}): Promise<SnapshotResult> {
  const slot = slotOf(at);
  const taken = await directDb().begin(async (tx) => {
    await tx`select set_config('statement_timeout', ${String(STATEMENT_TIMEOUT_MS)}, true)`;
    const figures = await databaseFigures(tx);
    const [snapshot] = await insertSnapshot(tx, slot, config().stats.deployId, figures);
    if (!snapshot) return undefined;
    const massDeletes = await recordTableChanges(tx, snapshot.id, { share: config().alerts.massDeleteShare, minRows: MASS_DELETE_MIN_ROWS });
    await recordIndexSightings(tx);
    await recordRelationSizes(tx, snapshot.id);
    await recordSettings(tx, snapshot.id);
    const availability = await statementsAvailability(tx);
    await redactStoredTextsAgain(tx, availability.available ? availability.schema : undefined);
    if (!availability.available) {
      return {
        snapshotId: snapshot.id,
        statements: 0,
        statementsNote: availability.reason,
        thresholds: await judgeWindow(tx, snapshot.id, figures),
        massDeletes,
      };
    }
    await recordStatementsInfo(tx, availability.schema, snapshot.id);
    const statements = await recordQueryStats(tx, availability.schema, snapshot.id);
    await rollUpQueryStats(tx, snapshot.id);
    const [hidden] = hiddenStatementsNote(await statsVisibility(tx));
    return {
      snapshotId: snapshot.id,
      statements,
      ...(hidden ? { statementsNote: hidden } : {}),
      thresholds: await judgeWindow(tx, snapshot.id, figures),
      massDeletes,
    };
  });
  if (!taken) return { status: "duplicate", slot: slot.toISOString() };
  await reportThresholds(taken.thresholds, slot);
  await reportMassDeletes(taken.massDeletes, slot);
  const plans: PlansRecorded = taken.statements > 0 ? await recordPlans(taken.snapshotId, slot) : { statements: 0, changed: [], ms: 0 };
  const regressions = await probed(directDb(), (tx) => statementRegressions(tx));
  for (const regression of regressions) log.warn("statement slower since the newest deploy", { ...regression, query: undefined });
  const planRegressions = await probed(directDb(), (tx) => planChangeRegressions(tx));
  for (const regression of planRegressions) {
    log.warn("statement slower since its plan changed", { queryId: regression.queryId, at: regression.at, verdict: regression.verdict });
  }
  return {
    status: "taken",
    slot: slot.toISOString(),
    ...taken,
    regressions,
    plans,
    planRegressions,
    pruned: await prune(),
    alertsRedelivered: await alertsSentAgain(),
  };
}

/** The cron's entry: a snapshot whose failure fires `job:stats-snapshot`, resolved by the next success. */
export function statsSnapshotJob(): Promise<SnapshotResult> {
  return monitored("stats-snapshot", () => takeStatsSnapshot());
}
