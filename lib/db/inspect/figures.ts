/**
 * The platform's own figures of its database, for the snapshot and the gap_* series, read in
 * one statement (pg_stat_activity, pg_statio_*, the newest ops snapshot, backup and drill),
 * returned as one JSON row. Connection usage is judged server-wide: every database's client
 * backends take slots from the same max_connections.
 */
import { usableConnections } from "./connections.js";
import { clientSession } from "./visibility.js";
import type { Sql } from "../pool.js";

export interface DatabaseFigures {
  database: string;
  sizeBytes: number;
  usableConnections: number;
  /** Client backends of every database on the server. */
  serverClientConnections: number;
  /** Client backends of this database. */
  databaseClientConnections: number;
  /** This database's client backends by state. */
  activityByState: Record<string, number>;
  blockedSessions: number;
  longestLockWaitSeconds: number;
  longestTransactionSeconds: number;
  tableCacheHitRatio: number | null;
  indexCacheHitRatio: number | null;
  /** Unix time of the newest stats snapshot, null before the first. */
  lastSnapshotAt: number | null;
  /** Unix time the newest successful backup finished, null before the first. */
  lastSuccessfulBackupAt: number | null;
  /** Unix time the newest successful disaster-recovery drill finished, and how long its recovery took. */
  lastDrillAt: number | null;
  lastDrillRecoverySeconds: number | null;
  /** What the newest drill that measured it restored per second: its restored database's size over its recovery time. */
  drillRecoveryBytesPerSecond: number | null;
  /** This database's size at that throughput: what a recovery would take today. */
  projectedRecoverySeconds: number | null;
  /** The newest snapshot's judged figures (ops.threshold_results), by metric. */
  latestJudgements: Record<string, number>;
}

export async function databaseFigures(sql: Sql): Promise<DatabaseFigures> {
  const [row] = await sql<{ figures: DatabaseFigures }[]>`
    with activity as (
      select
        state,
        xact_start,
        state_change,
        wait_event_type,
        cardinality(pg_blocking_pids(pid)) > 0 as blocked
      from pg_stat_activity
      where ${clientSession(sql)} and datname = current_database()
    )
    select json_build_object(
      'database', current_database(),
      'sizeBytes', pg_database_size(current_database()),
      'usableConnections', ${usableConnections(sql)},
      'serverClientConnections', (select count(*) from pg_stat_activity where ${clientSession(sql)}),
      'databaseClientConnections', (select count(*) from activity),
      'activityByState', (
        select coalesce(json_object_agg(state, n), '{}')
        from (select coalesce(state, 'unknown') as state, count(*) as n from activity group by 1) s),
      'blockedSessions', (select count(*) from activity where blocked),
      'longestLockWaitSeconds', (
        select coalesce(max(extract(epoch from now() - state_change)), 0) from activity where blocked),
      'longestTransactionSeconds', (
        select coalesce(max(extract(epoch from now() - xact_start)), 0) from activity where xact_start is not null),
      'tableCacheHitRatio', (
        select sum(heap_blks_hit)::float8 / nullif(sum(heap_blks_hit + heap_blks_read), 0) from pg_statio_user_tables),
      'indexCacheHitRatio', (
        select sum(idx_blks_hit)::float8 / nullif(sum(idx_blks_hit + idx_blks_read), 0) from pg_statio_user_indexes),
      'lastSnapshotAt', (select extract(epoch from max(taken_at))::float8 from ops.db_stats_snapshots),
      'lastSuccessfulBackupAt', (select extract(epoch from max(finished_at))::float8 from ops.backups where status = 'succeeded'),
      'lastDrillAt', (select extract(epoch from max(finished_at))::float8 from ops.dr_drills where status = 'succeeded'),
      'lastDrillRecoverySeconds', (
        select recovery_seconds from ops.dr_drills where status = 'succeeded' order by finished_at desc limit 1),
      'drillRecoveryBytesPerSecond', (
        select restored_bytes / nullif(recovery_seconds, 0)
        from ops.dr_drills where status = 'succeeded' and restored_bytes > 0 order by finished_at desc limit 1),
      'projectedRecoverySeconds', (
        select pg_database_size(current_database()) * recovery_seconds / restored_bytes
        from ops.dr_drills where status = 'succeeded' and restored_bytes > 0 order by finished_at desc limit 1),
      'latestJudgements', (
        select coalesce(json_object_agg(metric, value), '{}')
        from ops.threshold_results
        where snapshot_id = (select max(snapshot_id) from ops.threshold_results))
    ) as figures`;
  if (!row) throw new Error("the metrics statement returned no row");
  return row.figures;
}
