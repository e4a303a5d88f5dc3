/**
 * The server's figures as postgres_exporter reads them for PostgreSQL 15, so that its families
 * can be published under its names, types, labels and label values (zeros included), and the
 * postgres-mixin's rules and dashboards work unchanged. One statement for the server, one for
 * pg_stat_statements; the platform's own scrape is left out of the lock counts.
 */
import type { Sql } from "../pool.js";

/** pg_stat_activity states postgres_exporter publishes for every database, zeros included. */
export const ACTIVITY_STATES = ["active", "idle", "idle in transaction", "idle in transaction (aborted)", "fastpath function call", "disabled"] as const;

/** Lock modes as postgres_exporter names them (lower case), for every database, zeros included. */
export const LOCK_MODES = [
  "accesssharelock",
  "rowsharelock",
  "rowexclusivelock",
  "shareupdateexclusivelock",
  "sharelock",
  "sharerowexclusivelock",
  "exclusivelock",
  "accessexclusivelock",
  "sireadlock",
] as const;

/** pg_stat_database columns published; numbackends is a gauge, the rest counters (as postgres_exporter types them). */
export const DATABASE_STATS = [
  "numbackends",
  "xact_commit",
  "xact_rollback",
  "blks_read",
  "blks_hit",
  "tup_returned",
  "tup_fetched",
  "tup_inserted",
  "tup_updated",
  "tup_deleted",
  "conflicts",
  "temp_files",
  "temp_bytes",
  "deadlocks",
  "blk_read_time",
  "blk_write_time",
] as const;

/** pg_stat_bgwriter columns, published as `<column>_total` counters. */
export const BGWRITER_STATS = [
  "checkpoints_timed",
  "checkpoints_req",
  "checkpoint_write_time",
  "checkpoint_sync_time",
  "buffers_checkpoint",
  "buffers_clean",
  "maxwritten_clean",
  "buffers_backend",
  "buffers_backend_fsync",
  "buffers_alloc",
  "stats_reset",
] as const;

/** Settings published as `pg_settings_*`: what the mixin's rules and the common dashboards read. */
export const EXPORTED_SETTINGS = [
  "max_connections",
  "superuser_reserved_connections",
  "reserved_connections",
  "max_locks_per_transaction",
  "max_prepared_transactions",
  "autovacuum_vacuum_scale_factor",
  "autovacuum_vacuum_threshold",
  "autovacuum_vacuum_insert_scale_factor",
  "autovacuum_vacuum_insert_threshold",
  "autovacuum_analyze_scale_factor",
  "autovacuum_analyze_threshold",
  "autovacuum_freeze_max_age",
  "shared_buffers",
  "effective_cache_size",
  "work_mem",
  "maintenance_work_mem",
  "max_wal_size",
  "statement_timeout",
  "idle_in_transaction_session_timeout",
] as const;

/** pg_stat_user_tables columns: counters, then gauges (row estimates and epoch seconds of the last (auto)vacuum and analyze). */
export const TABLE_COUNTERS = [
  "seq_scan",
  "seq_tup_read",
  "idx_scan",
  "idx_tup_fetch",
  "n_tup_ins",
  "n_tup_upd",
  "n_tup_del",
  "n_tup_hot_upd",
  "vacuum_count",
  "autovacuum_count",
  "analyze_count",
  "autoanalyze_count",
] as const;
export const TABLE_GAUGES = ["n_live_tup", "n_dead_tup", "n_mod_since_analyze", "last_vacuum", "last_autovacuum", "last_analyze", "last_autoanalyze"] as const;
/** pg_statio_user_tables columns, counters. */
export const TABLE_IO_COUNTERS = ["heap_blks_read", "heap_blks_hit", "idx_blks_read", "idx_blks_hit"] as const;

export interface ExporterFigures {
  version: string;
  postmasterStartSeconds: number;
  databases: Array<{ datid: string; datname: string; sizeBytes: number | null } & Record<(typeof DATABASE_STATS)[number], number>>;
  activity: Array<{ datname: string; state: string; count: number; maxTxDurationSeconds: number }>;
  locks: Array<{ datname: string; mode: string; count: number }>;
  settings: Array<{ name: string; setting: string; unit: string; vartype: string }>;
  bgwriter: Record<(typeof BGWRITER_STATS)[number], number>;
  tables: Array<{ datname: string; schemaname: string; relname: string } & Record<string, number>>;
  replication: {
    isReplica: boolean;
    lagSeconds: number;
    senders: Array<{ applicationName: string; clientAddr: string; state: string; currentWalLsnBytes: number | null; walLsnDiff: number | null }>;
    slots: Array<{ slotName: string; database: string; active: number; walLsnDiff: number | null }>;
  };
}

/** The server's figures, read once: every database, every table of this one, the settings, bgwriter and replication. */
export async function exporterFigures(sql: Sql): Promise<ExporterFigures> {
  const [row] = await sql<{ figures: ExporterFigures }[]>`
    with
      states (state) as (select jsonb_array_elements_text(${sql.json([...ACTIVITY_STATES])}::jsonb)),
      modes (mode) as (select jsonb_array_elements_text(${sql.json([...LOCK_MODES])}::jsonb)),
      activity as (
        select datname, state, count(*) as n, max(extract(epoch from now() - xact_start)) as max_tx
        from pg_stat_activity
        group by datname, state),
      locks as (
        select database, lower(mode) as mode, count(*) as n
        from pg_locks
        where database is not null and pid is distinct from pg_backend_pid()
        group by 1, 2)
    select json_build_object(
      'version', version(),
      'postmasterStartSeconds', extract(epoch from pg_postmaster_start_time())::float8,
      'databases', (
        select coalesce(json_agg(json_build_object(
            'datid', s.datid::text,
            'datname', coalesce(s.datname, ''),
            'sizeBytes', case when s.datid <> 0 and has_database_privilege(s.datid, 'CONNECT') then pg_database_size(s.datid) end,
            'numbackends', s.numbackends, 'xact_commit', s.xact_commit, 'xact_rollback', s.xact_rollback,
            'blks_read', s.blks_read, 'blks_hit', s.blks_hit, 'tup_returned', s.tup_returned, 'tup_fetched', s.tup_fetched,
            'tup_inserted', s.tup_inserted, 'tup_updated', s.tup_updated, 'tup_deleted', s.tup_deleted,
            'conflicts', s.conflicts, 'temp_files', s.temp_files, 'temp_bytes', s.temp_bytes, 'deadlocks', s.deadlocks,
            'blk_read_time', s.blk_read_time, 'blk_write_time', s.blk_write_time)
          order by s.datid), '[]')
        from pg_stat_database s),
      'activity', (
        select json_agg(json_build_object('datname', d.datname, 'state', st.state, 'count', coalesce(a.n, 0), 'maxTxDurationSeconds', coalesce(a.max_tx, 0))
          order by d.datname, st.state)
        from pg_database d
        cross join states st
        left join activity a on a.datname = d.datname and a.state = st.state),
      'locks', (
        select json_agg(json_build_object('datname', d.datname, 'mode', m.mode, 'count', coalesce(l.n, 0)) order by d.datname, m.mode)
        from pg_database d
        cross join modes m
        left join locks l on l.database = d.oid and l.mode = m.mode),
      'settings', (
        select coalesce(json_agg(json_build_object('name', name, 'setting', setting, 'unit', coalesce(unit, ''), 'vartype', vartype) order by name), '[]')
        from pg_settings
        where name in ${sql([...EXPORTED_SETTINGS])}),
      'bgwriter', (
        select json_build_object(
          'checkpoints_timed', checkpoints_timed, 'checkpoints_req', checkpoints_req,
          'checkpoint_write_time', checkpoint_write_time, 'checkpoint_sync_time', checkpoint_sync_time,
          'buffers_checkpoint', buffers_checkpoint, 'buffers_clean', buffers_clean, 'maxwritten_clean', maxwritten_clean,
          'buffers_backend', buffers_backend, 'buffers_backend_fsync', buffers_backend_fsync, 'buffers_alloc', buffers_alloc,
          'stats_reset', extract(epoch from stats_reset)::float8)
        from pg_stat_bgwriter),
      'tables', (
        select coalesce(json_agg(json_build_object(
            'datname', current_database(), 'schemaname', t.schemaname, 'relname', t.relname,
            'seq_scan', t.seq_scan, 'seq_tup_read', t.seq_tup_read, 'idx_scan', coalesce(t.idx_scan, 0), 'idx_tup_fetch', coalesce(t.idx_tup_fetch, 0),
            'n_tup_ins', t.n_tup_ins, 'n_tup_upd', t.n_tup_upd, 'n_tup_del', t.n_tup_del, 'n_tup_hot_upd', t.n_tup_hot_upd,
            'n_live_tup', t.n_live_tup, 'n_dead_tup', t.n_dead_tup, 'n_mod_since_analyze', t.n_mod_since_analyze,
            'last_vacuum', coalesce(extract(epoch from t.last_vacuum), 0), 'last_autovacuum', coalesce(extract(epoch from t.last_autovacuum), 0),
            'last_analyze', coalesce(extract(epoch from t.last_analyze), 0), 'last_autoanalyze', coalesce(extract(epoch from t.last_autoanalyze), 0),
            'vacuum_count', t.vacuum_count, 'autovacuum_count', t.autovacuum_count, 'analyze_count', t.analyze_count, 'autoanalyze_count', t.autoanalyze_count,
            'heap_blks_read', coalesce(io.heap_blks_read, 0), 'heap_blks_hit', coalesce(io.heap_blks_hit, 0),
            'idx_blks_read', coalesce(io.idx_blks_read, 0), 'idx_blks_hit', coalesce(io.idx_blks_hit, 0))
          order by t.schemaname, t.relname), '[]')
        from pg_stat_user_tables t
        left join pg_statio_user_tables io on io.relid = t.relid),
      'replication', json_build_object(
        'isReplica', pg_is_in_recovery(),
        'lagSeconds', case when pg_is_in_recovery() then greatest(0, extract(epoch from now() - pg_last_xact_replay_timestamp())) else 0 end,
        'senders', (
          select coalesce(json_agg(json_build_object(
              'applicationName', coalesce(application_name, ''), 'clientAddr', coalesce(host(client_addr), ''), 'state', coalesce(state, ''),
              'currentWalLsnBytes', case when pg_is_in_recovery() then null else pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::float8 end,
              'walLsnDiff', case when pg_is_in_recovery() then null else pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::float8 end)
            order by application_name, client_addr), '[]')
          from pg_stat_replication),
        'slots', (
          select coalesce(json_agg(json_build_object(
              'slotName', slot_name, 'database', coalesce(database, ''), 'active', case when active then 1 else 0 end,
              'walLsnDiff', case when pg_is_in_recovery() then null else pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::float8 end)
            order by slot_name), '[]')
          from pg_replication_slots))
    ) as figures`;
  if (!row) throw new Error("the exporter statement returned no row");
  return row.figures;
}

export interface StatementCounters {
  user: string;
  datname: string;
  queryid: string;
  calls: number;
  seconds: number;
  rows: number;
  blockReadSeconds: number;
  blockWriteSeconds: number;
}

/**
 * The cumulative counters of the `limit` statements with the most total time, every database's
 * (as postgres_exporter's pg_stat_statements collector reads them): bounded cardinality.
 */
export async function statementCounters(sql: Sql, schema: string, { limit = 50 } = {}): Promise<StatementCounters[]> {
  // A statement run both at top level and nested has two rows (toplevel): one label set, summed.
  return sql<StatementCounters[]>`
    select
      coalesce(pg_get_userbyid(s.userid)::text, 'unknown') as user,
      coalesce(d.datname::text, 'unknown') as datname,
      s.queryid::text as queryid,
      sum(s.calls)::float8 as calls,
      (sum(s.total_exec_time) / 1000.0)::float8 as seconds,
      sum(s.rows)::float8 as rows,
      (sum(s.blk_read_time) / 1000.0)::float8 as "blockReadSeconds",
      (sum(s.blk_write_time) / 1000.0)::float8 as "blockWriteSeconds"
    from ${sql(schema)}.pg_stat_statements s
    join pg_database d on d.oid = s.dbid
    where s.queryid is not null
    group by s.userid, d.datname, s.queryid
    order by sum(s.total_exec_time) desc, s.queryid
    limit ${limit}`;
}
