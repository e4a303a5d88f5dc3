/** The shapes /api/ops answers with (functions/dashboard.ts and functions/findings.ts on the server). */

export type Window = "1h" | "24h" | "7d" | "14d";
export const WINDOWS: Window[] = ["1h", "24h", "7d", "14d"];

export interface Series {
  t: number[];
  values: Record<string, Array<number | null>>;
}

export interface Deploy {
  at: number;
  deployId: string;
  previousDeployId: string | null;
}

export interface ThresholdNow {
  metric: string;
  value: number;
  status: "ok" | "warn" | "alert";
  target: number;
  alertLevel: number;
  at: number;
}

export interface TargetMetric {
  metric: string;
  unit: string;
  target: number;
  alertLevel: number;
  now: ThresholdNow | null;
}

export interface AlertEvent {
  at: string;
  key: string;
  status: "firing" | "resolved";
  summary: string;
  since: string;
  delivered: boolean;
}

export interface ModeState {
  mode: "normal" | "read-only" | "maintenance";
  reason: string | null;
  since: string | null;
}

export interface RecoveryPoint {
  ageSeconds: number | null;
  rpoSeconds: number;
  newestBackupAt: string | null;
  status: "ok" | "late";
}

export interface DrillRun {
  id: string;
  status: string;
  startedAt: string;
  finishedAt: string | null;
  recoverySeconds: number | null;
  dataAgeSeconds: number | null;
  restoredBytes: number | null;
  analyzeSeconds: number | null;
  source: string | null;
  error: string | null;
}

export interface RecoveryTime {
  projectedSeconds: number | null;
  rtoSeconds: number;
  throughputBytesPerSecond: number | null;
  databaseBytes: number | null;
  drilledAt: string | null;
  status: "ok" | "over" | "unmeasured";
}

export interface NewestDrills {
  newest: DrillRun | null;
  newestSucceeded: DrillRun | null;
}

export interface SnapshotFreshness {
  takenAt: string | null;
  ageSeconds: number | null;
  staleAfterSeconds: number;
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

export interface StatementTotal {
  queryId: string;
  query: string;
  calls: number;
  totalMs: number;
  meanMs: number | null;
  shareOfTotal: number;
}

export interface StatementsView {
  window: Window;
  byTotalTime: StatementTotal[];
  byMeanTime: StatementTotal[];
  byCalls: StatementTotal[];
  sparklines: Series;
  deploys: Deploy[];
}

export interface DeployEffect {
  at: number;
  deployId: string;
  previousDeployId: string | null;
  meanMsBefore: number | null;
  meanMsAfter: number | null;
  callsBefore: number;
  callsAfter: number;
  regression: boolean;
}

export interface IndexAdvice {
  table: string;
  columns: string[];
  costBefore: number;
  costAfter: number;
  costCut: number;
  estimatedSizeBytes: number;
  createStatement: string;
}

export interface StatementView {
  window: Window;
  statement: { queryId: string; query: string; firstSeenAt: string };
  series: Series;
  deploys: Deploy[];
  deployEffects: DeployEffect[];
  plan: { plan: string } | { plan: null; reason: string };
  advice: { advice: IndexAdvice | null; note: string };
}

export interface ConnectionUsage {
  total: number;
  usable: number;
  usageRatio: number;
  thisDatabase: number;
  thisDatabaseRatio: number;
  active: number;
  idle: number;
  idleInTransaction: number;
  waiting: number;
  /** Sessions counted whose state this role may not see. */
  hidden: number;
}

export interface ConnectionsView {
  window: Window;
  series: Series;
  saturation: { target: number; alertLevel: number };
  usage: ConnectionUsage;
  deploys: Deploy[];
}

export interface RunningQuery {
  pid: number;
  application: string;
  state: string;
  durationSeconds: number;
  waitEvent: string | null;
  query: string;
}

export interface BlockedSession {
  pid: number;
  blockedBy: number[];
  rootBlocker: number;
  lockWaitSeconds: number;
  waitEvent: string | null;
  query: string;
  blockerQuery: string | null;
  blockerState: string | null;
}

export interface Activity {
  usage: ConnectionUsage;
  running: RunningQuery[];
  blocked: BlockedSession[];
  /** What this role may not see (without pg_read_all_stats), said rather than left out. */
  notes: string[];
}

export interface RelationSize {
  schema: string;
  name: string;
  kind: "table" | "index";
  sizeBytes: number;
  totalBytes: number;
  estimatedRows: number;
}

export interface SpaceView {
  window: Window;
  series: Series;
  growth: { fromAt: string; toAt: string; fromBytes: number; toBytes: number; bytesPerDay: number } | null;
  quota: { bytes: number; usedRatio: number | null; daysLeft: number | null } | null;
  relations: RelationSize[];
  deploys: Deploy[];
  changes: { t: number[]; inserted: number[]; updated: number[]; deleted: number[] };
  largestLosses: TableChange[];
}

export interface TableChange {
  takenAt: string;
  schema: string;
  table: string;
  inserted: number;
  updated: number;
  deleted: number;
  rowsBefore: number;
}

export interface Finding {
  check: string;
  subject: string;
  detail: string;
  run: string | null;
  note?: string;
}

export interface FindingsView {
  findings: Finding[];
  notes: string[];
}

export interface BackupRun {
  id: string;
  status: string;
  requestedAt: string;
  finishedAt: string | null;
  sizeBytes: number | null;
  encrypted: boolean | null;
  signed: boolean | null;
  error: string | null;
  copies: { location: string; status: string; verifiedAt: string | null }[];
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
