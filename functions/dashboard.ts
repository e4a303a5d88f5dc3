/**
 * What each view of the operations dashboard shows, over a window: read from the statistics
 * history (ops.*) and, for what is live, from the server itself, each in a read-only
 * transaction under a statement timeout.
 */
import { config } from "../lib/config.js";
import { alertHistory, firingAlerts, type AlertEvent } from "../lib/data/alert-events.js";
import { recoveryPointAge } from "../lib/data/backups.js";
import { recoveryProjection } from "../lib/data/dr-drills.js";
import { changeSeries, largestLosses, type ChangeSeries, type TableChange } from "../lib/data/table-changes.js";
import {
  backupRuns,
  databaseSeries,
  deploysIn,
  drillRuns,
  newestDrills,
  newestSnapshot,
  statementDeployEffects,
  statementSeries,
  statementText,
  thresholdSeries,
  thresholdsNow,
  statementsIn,
  type StatementListOptions,
  WINDOW_SECONDS,
  type BackupRun,
  type Deploy,
  type DeployEffect,
  type DrillRun,
  type NewestDrills,
  type NewestSnapshot,
  type Series,
  type StatementText,
  type StatementTotal,
  type ThresholdNow,
  type Window,
} from "../lib/data/history.js";
import { measuredAdviceFor, type MeasuredAdvice } from "../lib/data/measured-advice.js";
import { planChanges, type PlanChange } from "../lib/data/statement-plans.js";
import { genericPlanText, hypopgAvailability, indexAdvice, statementCandidate, type GenericPlan, type IndexAdvice } from "../lib/db/inspect/advice.js";
import { connectionGroups, connectionUsage, type ConnectionGroup, type ConnectionUsage } from "../lib/db/inspect/connections.js";
import { replication, type Replication } from "../lib/db/inspect/replication.js";
import type { Capacity } from "../lib/db/inspect/capacity.js";
import { capacityNow } from "./capacity.js";
import { relationGrowth, relationSeries, type RelationGrowth } from "../lib/data/relation-sizes.js";
import { statementShape } from "../lib/db/inspect/statement-shape.js";
import { statementTables, type StatementTable } from "../lib/db/inspect/statement-tables.js";
import { probed } from "../lib/db/inspect/probe.js";
import { blockedSessions, runningQueries, type BlockedSession, type RunningQuery } from "../lib/db/inspect/queries.js";
import { databaseGrowth, type DatabaseGrowth } from "../lib/db/inspect/space.js";
import { statementsAvailability } from "../lib/db/inspect/statements.js";
import { hiddenSessionsNote, statsVisibility } from "../lib/db/inspect/visibility.js";
import { directDb, onOwnConnection, type Pool, type Sql } from "../lib/db/pool.js";
import { THRESHOLDS } from "../lib/metrics/thresholds.js";
import { platformMode, type ModeState } from "../lib/platform/mode.js";

export interface TargetMetric {
  metric: string;
  unit: string;
  target: number;
  alertLevel: number;
  /** The newest snapshot's judgement; null before one has judged it. */
  now: ThresholdNow | null;
}

export interface RecoveryPoint {
  /** Seconds since the newest successful backup (or since the history began, before the first). */
  ageSeconds: number | null;
  rpoSeconds: number;
  newestBackupAt: string | null;
  status: "ok" | "late";
}

export interface RecoveryTime {
  /** This database's size at the newest measuring drill's throughput; null before one. */
  projectedSeconds: number | null;
  rtoSeconds: number;
  throughputBytesPerSecond: number | null;
  databaseBytes: number | null;
  drilledAt: string | null;
  /** over: the projection passes BACKUP_RTO_MINUTES; unmeasured: no drill has measured its throughput. */
  status: "ok" | "over" | "unmeasured";
}

/**
 * Seconds after which the newest snapshot says its schedule is not running: three missed runs,
 * as monitoring/alerts.yml's GapStatsSnapshotStale judges it.
 */
const SNAPSHOT_STALE_SECONDS = 900;

export interface SnapshotFreshness extends NewestSnapshot {
  staleAfterSeconds: number;
  /** `none`: no snapshot yet; `stale`: the newest is older than staleAfterSeconds. */
  status: "ok" | "stale" | "none";
}

export interface Overview {
  window: Window;
  targetMetrics: TargetMetric[];
  series: Series;
  deploys: Deploy[];
  alerts: { firing: AlertEvent[]; history: AlertEvent[] };
  mode: ModeState;
  recoveryPoint: RecoveryPoint;
  drills: NewestDrills;
  snapshots: SnapshotFreshness;
}

async function snapshotFreshness(sql: Sql): Promise<SnapshotFreshness> {
  const newest = await newestSnapshot(sql);
  const status = newest.ageSeconds === null ? "none" : newest.ageSeconds > SNAPSHOT_STALE_SECONDS ? "stale" : "ok";
  return { ...newest, staleAfterSeconds: SNAPSHOT_STALE_SECONDS, status };
}

async function recoveryTime(): Promise<RecoveryTime> {
  const rtoSeconds = config().backups.rtoSeconds;
  const projection = await recoveryProjection(directDb());
  if (!projection) return { projectedSeconds: null, rtoSeconds, throughputBytesPerSecond: null, databaseBytes: null, drilledAt: null, status: "unmeasured" };
  return {
    projectedSeconds: projection.projectedSeconds,
    rtoSeconds,
    throughputBytesPerSecond: projection.restoredBytes / projection.recoverySeconds,
    databaseBytes: projection.databaseBytes,
    drilledAt: projection.drilledAt,
    status: projection.projectedSeconds > rtoSeconds ? "over" : "ok",
  };
}

async function recoveryPoint(): Promise<RecoveryPoint> {
  const { seconds, newestBackupAt } = await recoveryPointAge(directDb());
  const rpoSeconds = config().backups.rpoMs / 1000;
  return { ageSeconds: seconds, rpoSeconds, newestBackupAt, status: seconds !== null && seconds > rpoSeconds ? "late" : "ok" };
}

/** The Target Metrics now and over the window, the alerts, the mode, and the recovery point and drill. */
export async function overview(window: Window): Promise<Overview> {
  const sql = directDb();
  const now = await thresholdsNow(sql);
  const hours = Math.ceil(WINDOW_SECONDS[window] / 3600);
  return {
    window,
    targetMetrics: Object.entries(THRESHOLDS).map(([metric, { target, alert, unit }]) => ({
      metric,
      unit,
      target,
      alertLevel: alert,
      now: now.find((n) => n.metric === metric) ?? null,
    })),
    series: await thresholdSeries(sql, window),
    deploys: await deploysIn(sql, window),
    alerts: { firing: await firingAlerts(sql), history: await alertHistory(sql, { hours }) },
    mode: await platformMode(),
    recoveryPoint: await recoveryPoint(),
    drills: await newestDrills(sql),
    snapshots: await snapshotFreshness(sql),
  };
}

export interface StatementsView {
  window: Window;
  /** The database the history is of (pg_stat_statements' rows of the others are not kept). */
  database: string;
  statements: StatementTotal[];
  /** Statements of the window that match the search, listed or not. */
  matched: number;
  /** `calls:<id>` and `meanMs:<id>` of the first SPARKLINES statements listed. */
  sparklines: Series;
  deploys: Deploy[];
}

/** Statements listed with a sparkline (a list of "all" draws the first ones). */
const SPARKLINES = 100;

/** The window's statements sorted, searched and cut as asked (mean time ranks statements called 10 times or more), the first with sparklines. */
export async function statementsView(window: Window, options: StatementListOptions): Promise<StatementsView> {
  const sql = directDb();
  const { statements, matched } = await statementsIn(sql, window, options);
  const [database] = await sql<{ name: string }[]>`select current_database() as name`;
  const ids = statements.slice(0, SPARKLINES).map((s) => s.queryId);
  return {
    window,
    database: database?.name ?? "",
    statements,
    matched,
    sparklines: await statementSeries(sql, window, ids),
    deploys: await deploysIn(sql, window),
  };
}

export type StatementAdvice = { advice: IndexAdvice | null; note: string };

/** The newest advice measured on a restored copy about the statement: an index built for it, or a drop it was timed for. */
export type StatementMeasuredAdvice = (MeasuredAdvice & { measuredAt: string; copyTakenAt: string | null }) | null;

export interface StatementView {
  window: Window;
  statement: StatementText;
  series: Series;
  deploys: Deploy[];
  /** Each deploy in the window: the statement's mean before and after, and whether it regressed. */
  deployEffects: DeployEffect[];
  plan: GenericPlan;
  /** hypopg's estimate: hypothetical. */
  advice: StatementAdvice;
  measuredAdvice: StatementMeasuredAdvice;
  /** Each change of its plan the snapshots caught in the window, both plans and the mean on either side. */
  planChanges: PlanChange[];
  /** The tables it reads, with their sizes and indexes. */
  tables: StatementTable[];
  /** What EXPLAIN ANALYZE needs of the operator: the values of $1 … $n, and a confirmation if it writes; null where the text cannot be parsed. */
  run: { parameters: number; writes: string | null } | null;
}

/** The plan and index advice of the statement, as pg_stat_statements holds it now. */
async function planAndAdvice(queryId: string): Promise<{ plan: GenericPlan; advice: StatementAdvice }> {
  return onOwnConnection((own) =>
    probed(
      own,
      async (tx) => {
        const statements = await statementsAvailability(tx);
        if (!statements.available) {
          const reason = `statement statistics unavailable: ${statements.reason}`;
          return { plan: { plan: null, reason }, advice: { advice: null, note: reason } };
        }
        const candidate = await statementCandidate(tx, statements.schema, queryId);
        if (!candidate) {
          const reason = "pg_stat_statements no longer holds this statement (evicted or reset): its text here is the stored one, without a plan";
          return { plan: { plan: null, reason }, advice: { advice: null, note: reason } };
        }
        const plan = await genericPlanText(tx, candidate);
        const hypopg = await hypopgAvailability(tx);
        if (!hypopg.available) return { plan, advice: { advice: null, note: `index advice skipped: ${hypopg.reason}` } };
        const { advice, skipped } = await indexAdvice(tx, hypopg.schema, [candidate]);
        const [first] = advice;
        if (first) return { plan, advice: { advice: first, note: `an index cuts the plan's cost by ${Math.round(first.costCut * 100)}%` } };
        return { plan, advice: { advice: null, note: skipped[0] ? `no advice: ${skipped[0].reason}` : "no index cuts this plan's cost by half or more" } };
      },
      10_000,
    ),
  );
}

/** One statement: its text, calls and mean time over the window, deploys and regressions, plan and index advice; undefined when never recorded. */
export async function statementView(window: Window, queryId: string): Promise<StatementView | undefined> {
  const sql = directDb();
  const statement = await statementText(sql, queryId);
  if (!statement) return undefined;
  return {
    window,
    statement,
    series: await statementSeries(sql, window, [queryId]),
    deploys: await deploysIn(sql, window),
    deployEffects: await statementDeployEffects(sql, window, queryId),
    ...(await planAndAdvice(queryId)),
    measuredAdvice: (await measuredAdviceFor(sql, queryId)) ?? null,
    planChanges: await planChanges(sql, { since: new Date(Date.now() - WINDOW_SECONDS[window] * 1000), queryId }),
    ...(await tablesAndShape(sql, statement.query)),
  };
}

/** The tables the statement names and what running it asks for, from its parse tree; none where its text (perhaps cut short) does not parse. */
async function tablesAndShape(sql: Pool, query: string): Promise<Pick<StatementView, "tables" | "run">> {
  const shape = await statementShape(query).catch(() => undefined);
  if (!shape) return { tables: [], run: null };
  return { tables: await probed(sql, (tx) => statementTables(tx, shape.relations)), run: { parameters: shape.parameters, writes: shape.writes } };
}

export interface ConnectionsView {
  window: Window;
  /** `connections:<state>` (this database's client connections) and the Target Metrics, `connection_pool_usage_ratio` among them. */
  series: Series;
  saturation: { target: number; alertLevel: number };
  usage: ConnectionUsage;
  deploys: Deploy[];
  /** Standbys and replication slots now. */
  replication: Replication;
  /** The last day's peak workload against the connection limits. */
  capacity: Capacity;
}

export async function connectionsView(window: Window): Promise<ConnectionsView> {
  const sql = directDb();
  const database = await databaseSeries(sql, window);
  const thresholds = await thresholdSeries(sql, window);
  const { target, alert } = THRESHOLDS.connection_pool_usage_ratio;
  return {
    window,
    series: mergedSeries(database, thresholds),
    saturation: { target, alertLevel: alert },
    usage: await probed(sql, (tx) => connectionUsage(tx)),
    deploys: await deploysIn(sql, window),
    replication: await probed(sql, (tx) => replication(tx)),
    capacity: await capacityNow(sql),
  };
}

/** Two series on the union of their times. */
function mergedSeries(a: Series, b: Series): Series {
  const t = [...new Set([...a.t, ...b.t])].sort((x, y) => x - y);
  const values: Record<string, Array<number | null>> = {};
  for (const source of [a, b]) {
    const at = new Map(source.t.map((time, index) => [time, index]));
    for (const [name, column] of Object.entries(source.values)) {
      values[name] = t.map((time) => {
        const index = at.get(time);
        return index === undefined ? null : (column[index] ?? null);
      });
    }
  }
  return { t, values };
}

export interface Activity {
  usage: ConnectionUsage;
  /** Every database's client connections by database, role, application and SSL. */
  groups: ConnectionGroup[];
  running: RunningQuery[];
  blocked: BlockedSession[];
  /** What this role may not see of other roles' sessions, said rather than left out. */
  notes: string[];
}

/** What runs now: connection usage, running queries, and who blocks whom. */
export async function activity(): Promise<Activity> {
  return probed(directDb(), async (tx) => ({
    usage: await connectionUsage(tx),
    groups: await connectionGroups(tx),
    running: await runningQueries(tx),
    blocked: await blockedSessions(tx),
    notes: hiddenSessionsNote(await statsVisibility(tx)),
  }));
}

export interface SpaceView {
  window: Window;
  series: Series;
  growth: DatabaseGrowth | null;
  quota: { bytes: number; usedRatio: number | null; daysLeft: number | null } | null;
  /** Every table and index with its growth over the last 7 days and, with a quota, the days until it at that pace alone. */
  relations: Array<RelationGrowth & { daysToQuota: number | null }>;
  deploys: Deploy[];
  /** Rows inserted, updated and deleted per snapshot: where a mass delete or update stands out with its slot. */
  changes: ChangeSeries;
  /** The intervals in which a table shrank the most. */
  largestLosses: TableChange[];
}

/** Database size over the window, growth per day, the days until the quota at that pace, and the largest relations. */
/** Days until the database reaches its quota if it grew only by `bytesPerDay`; null without a quota or growth. */
function daysToQuota(bytesPerDay: number | null, databaseBytes: number | null): number | null {
  const quota = config().stats.sizeQuotaBytes;
  if (!quota || databaseBytes === null || bytesPerDay === null || bytesPerDay <= 0) return null;
  return Math.max(0, Math.round(((quota - databaseBytes) / bytesPerDay) * 10) / 10);
}

export interface RelationView {
  window: Window;
  schema: string;
  name: string;
  /** `bytes` (the relation alone) and `totalBytes` (a table with its indexes and TOAST), one point an hour. */
  series: Series;
  now: RelationGrowth | null;
  deploys: Deploy[];
}

/** One table's or index's size over the window, and its growth now; undefined when it neither exists nor has history. */
export async function relationView(window: Window, schema: string, name: string): Promise<RelationView | undefined> {
  const sql = directDb();
  const series = await relationSeries(sql, schema, name, WINDOW_SECONDS[window]);
  const [now = null] = await probed(sql, (tx) => relationGrowth(tx, { days: 7, only: { schema, name } }));
  if (!now && series.t.length === 0) return undefined;
  return { window, schema, name, series, now, deploys: await deploysIn(sql, window) };
}

export async function spaceView(window: Window): Promise<SpaceView> {
  const sql = directDb();
  const series = await databaseSeries(sql, window);
  const growth = (await databaseGrowth(sql, { days: Math.max(1, Math.ceil(WINDOW_SECONDS[window] / 86_400)) })) ?? null;
  const quotaBytes = config().stats.sizeQuotaBytes;
  const sizes = series.values.sizeBytes ?? [];
  const latest = growth?.toBytes ?? sizes.findLast((size) => size !== null) ?? null;
  const quota = quotaBytes
    ? {
        bytes: quotaBytes,
        usedRatio: latest === null ? null : Math.round((latest / quotaBytes) * 10_000) / 10_000,
        daysLeft:
          latest === null || !growth || growth.bytesPerDay <= 0 ? null : Math.max(0, Math.round(((quotaBytes - latest) / growth.bytesPerDay) * 10) / 10),
      }
    : null;
  return {
    window,
    series: { t: series.t, values: { sizeBytes: sizes } },
    growth,
    quota,
    relations: (await probed(sql, (tx) => relationGrowth(tx, { days: 7 }))).map((r) => ({ ...r, daysToQuota: daysToQuota(r.bytesPerDay, latest) })),
    deploys: await deploysIn(sql, window),
    changes: await changeSeries(sql, new Date(Date.now() - WINDOW_SECONDS[window] * 1000)),
    largestLosses: await largestLosses(sql, new Date(Date.now() - WINDOW_SECONDS[window] * 1000)),
  };
}

export interface BackupsView {
  window: Window;
  recoveryPoint: RecoveryPoint;
  recoveryTime: RecoveryTime;
  backups: BackupRun[];
  drills: DrillRun[];
  newestDrills: NewestDrills;
  mode: ModeState;
}

export async function backupsView(window: Window): Promise<BackupsView> {
  const sql = directDb();
  return {
    window,
    recoveryPoint: await recoveryPoint(),
    recoveryTime: await recoveryTime(),
    backups: await backupRuns(sql, window),
    drills: await drillRuns(sql, window),
    newestDrills: await newestDrills(sql),
    mode: await platformMode(),
  };
}
