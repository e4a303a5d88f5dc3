/**
 * The database figures a scrape exposes, read in one statement: every view once
 * (pg_stat_activity, pg_locks, pg_stat_database, pg_statio_*, the newest ops snapshot, backup and drill),
 * returned as one JSON row.
 */
import { usableConnections } from "./connections.js";
import type { Sql } from "../pool.js";

export interface DatabaseFigures {
  database: string;
  sizeBytes: number;
  usableConnections: number;
  activityByState: Record<string, number>;
  blockedSessions: number;
  longestLockWaitSeconds: number;
  longestTransactionSeconds: number;
  locksByMode: Record<string, number>;
  stats: Record<string, number>;
  tableCacheHitRatio: number | null;
  indexCacheHitRatio: number | null;
  /** Unix time of the newest stats snapshot, null before the first. */
  lastSnapshotAt: number | null;
  /** Unix time the newest successful backup finished, null before the first. */
  lastSuccessfulBackupAt: number | null;
  /** Unix time the newest successful disaster-recovery drill finished, and how long its recovery took. */
  lastDrillAt: number | null;
  lastDrillRecoverySeconds: number | null;
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
      where backend_type = 'client backend' and datname = current_database()
    )
    select json_build_object(
      'database', current_database(),
      'sizeBytes', pg_database_size(current_database()),
      'usableConnections', ${usableConnections(sql)},
      'activityByState', (
        select coalesce(json_object_agg(state, n), '{}')
        from (select coalesce(state, 'unknown') as state, count(*) as n from activity group by 1) s),
      'blockedSessions', (select count(*) from activity where blocked),
      'longestLockWaitSeconds', (
        select coalesce(max(extract(epoch from now() - state_change)), 0) from activity where blocked),
      'longestTransactionSeconds', (
        select coalesce(max(extract(epoch from now() - xact_start)), 0) from activity where xact_start is not null),
      'locksByMode', (
        select coalesce(json_object_agg(mode, n), '{}')
        from (
          select l.mode, count(*) as n
          from pg_locks l
          join pg_database d on d.oid = l.database
          where d.datname = current_database()
          group by l.mode) m),
      'stats', (
        select json_build_object(
          'numbackends', numbackends, 'xact_commit', xact_commit, 'xact_rollback', xact_rollback,
          'blks_read', blks_read, 'blks_hit', blks_hit, 'tup_returned', tup_returned,
          'tup_fetched', tup_fetched, 'tup_inserted', tup_inserted, 'tup_updated', tup_updated,
          'tup_deleted', tup_deleted, 'conflicts', conflicts, 'temp_files', temp_files,
          'temp_bytes', temp_bytes, 'deadlocks', deadlocks)
        from pg_stat_database
        where datname = current_database()),
      'tableCacheHitRatio', (
        select sum(heap_blks_hit)::float8 / nullif(sum(heap_blks_hit + heap_blks_read), 0) from pg_statio_user_tables),
      'indexCacheHitRatio', (
        select sum(idx_blks_hit)::float8 / nullif(sum(idx_blks_hit + idx_blks_read), 0) from pg_statio_user_indexes),
      'lastSnapshotAt', (select extract(epoch from max(taken_at))::float8 from ops.db_stats_snapshots),
      'lastSuccessfulBackupAt', (select extract(epoch from max(finished_at))::float8 from ops.backups where status = 'succeeded'),
      'lastDrillAt', (select extract(epoch from max(finished_at))::float8 from ops.dr_drills where status = 'succeeded'),
      'lastDrillRecoverySeconds', (
        select recovery_seconds from ops.dr_drills where status = 'succeeded' order by finished_at desc limit 1),
      'latestJudgements', (
        select coalesce(json_object_agg(metric, value), '{}')
        from ops.threshold_results
        where snapshot_id = (select max(snapshot_id) from ops.threshold_results))
    ) as figures`;
  if (!row) throw new Error("the metrics statement returned no row");
  return row.figures;
}
