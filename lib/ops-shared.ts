/**
 * What the operations dashboard (dashboard/src, bundled for the browser) and the server share
 * at run time: the windows a view can cover, and the checks findings are filed under with the
 * heading each is listed under. No imports: the browser bundle takes this file whole. The
 * answers' shapes are shared as types (dashboard/src/types.ts re-exports the server's).
 */

export const WINDOWS = ["1h", "24h", "7d", "14d"] as const;
export type Window = (typeof WINDOWS)[number];

/** Each check a finding comes from, and the dashboard's heading for its findings. */
export const CHECK_TITLES = {
  tableBloat: "Table bloat",
  indexBloat: "Index bloat",
  unusedIndexes: "Unused indexes",
  redundantIndexes: "Redundant indexes",
  invalidIndexes: "Invalid indexes",
  missingForeignKeyIndexes: "Foreign keys without an index",
  sequentialScans: "Tables read by sequential scans",
  tablesMissingCache: "Tables whose reads miss the cache",
  autovacuumDue: "Tables due for autovacuum",
  freezeAge: "Tables nearing their freeze threshold",
  sequences: "Sequences near the end of their column",
  notValidConstraints: "NOT VALID constraints",
  indexAdvice: "Indexes worth building",
} as const;

export type Check = keyof typeof CHECK_TITLES;

/** How urgent a finding is, most urgent first: the order findings are listed in. */
export const SEVERITIES = ["critical", "warning", "notice"] as const;
export type Severity = (typeof SEVERITIES)[number];
