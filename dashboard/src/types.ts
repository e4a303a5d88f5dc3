/**
 * The shapes /api/ops answers with: the server's own types, so a change on either side that
 * breaks the other fails `npm run typecheck`. Type-only: nothing of the server reaches the
 * browser bundle but lib/ops-shared.ts, which has no imports.
 */
export { WINDOWS, CHECK_TITLES, SEVERITIES, type Window, type Check, type Severity } from "../../lib/ops-shared.js";
export type {
  Activity,
  BackupsView,
  ConnectionsView,
  Overview,
  RecoveryPoint,
  RecoveryTime,
  SnapshotFreshness,
  SpaceView,
  RelationView,
  StatementsView,
  StatementView,
  TargetMetric,
} from "../../functions/dashboard.js";
export type { Finding, FindingsView } from "../../functions/findings.js";
export type { TuneView } from "../../functions/tune.js";
export type { AlertEvent } from "../../lib/data/alert-events.js";
export type { BackupRun, Deploy, DeployEffect, DrillRun, NewestDrills, Series, StatementTotal, ThresholdNow } from "../../lib/data/history.js";
export type { TableChange } from "../../lib/data/table-changes.js";
export type { IndexAdvice } from "../../lib/db/inspect/advice.js";
export type { ConnectionUsage } from "../../lib/db/inspect/connections.js";
export type { BlockedSession, RunningQuery } from "../../lib/db/inspect/queries.js";
export type { RelationSize } from "../../lib/db/inspect/space.js";
export type { ModeState } from "../../lib/platform/mode.js";
