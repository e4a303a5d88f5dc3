/**
 * Writing the statistics history (ops.*). Per-statement work is the difference of
 * pg_stat_statements' cumulative counters between two snapshots, computed set-based in one
 * statement, and never negative: a statement that is new, was evicted and came back, or
 * whose counters were reset counts its counters as they are.
 */
import type postgres from "postgres";
import type { Sql } from "../db/pool.js";
import type { DatabaseFigures } from "../db/inspect/figures.js";
import { firstKeywordOnly, redactedStatement, redactionReady } from "../db/redaction.js";

export interface SnapshotRow {
  id: string;
}

/** The snapshot of `slot`, or nothing when a snapshot already holds that slot. */
export function insertSnapshot(tx: Sql, slot: Date, deployId: string | undefined, figures: DatabaseFigures): postgres.PendingQuery<SnapshotRow[]> {
  return tx<SnapshotRow[]>`
    insert into ops.db_stats_snapshots (
      slot, deploy_id, connections_by_state, database_size_bytes, table_cache_hit_ratio,
      index_cache_hit_ratio, blocked_sessions, longest_transaction_seconds, xid_age,
      statements_reset_at, statements_evicted)
    select
      ${slot.toISOString()}::text::timestamptz,
      ${deployId ?? null},
      ${tx.json(figures.activityByState)},
      ${figures.sizeBytes},
      ${figures.tableCacheHitRatio},
      ${figures.indexCacheHitRatio},
      ${figures.blockedSessions},
      ${figures.longestTransactionSeconds},
      (select age(datfrozenxid) from pg_database where datname = current_database()),
      null,
      null
    on conflict (slot) do nothing
    returning id::text as id`;
}

/** Records pg_stat_statements_info's last reset and eviction count on the snapshot. */
export async function recordStatementsInfo(tx: Sql, schema: string, snapshotId: string): Promise<void> {
  await tx`
    update ops.db_stats_snapshots
    set
      statements_reset_at = info.stats_reset,
      statements_evicted = info.dealloc
    from ${tx(schema)}.pg_stat_statements_info info
    where id = ${snapshotId}`;
}

/** Texts of statements the history has no text of yet, stored once, redacted (a utility statement's text is verbatim). */
async function storeNewTexts(tx: Sql, schema: string): Promise<void> {
  const fresh = await tx<{ queryId: string; query: string }[]>`
    select s.queryid::text as "queryId", min(s.query) as query
    from ${tx(schema)}.pg_stat_statements s
    where s.dbid = (select oid from pg_database where datname = current_database())
      and s.queryid is not null
      and not exists (select 1 from ops.query_texts t where t.queryid = s.queryid)
    group by s.queryid`;
  if (!fresh.length) return;
  await redactionReady();
  const texts = fresh.map(({ queryId, query }) => ({ queryId, query: redactedStatement(query) }));
  await tx`
    insert into ops.query_texts (queryid, query, lexer)
    select (e ->> 'queryId')::bigint, e ->> 'query', true
    from jsonb_array_elements(${tx.json(texts)}::jsonb) e
    on conflict (queryid) do nothing`;
}

/** Adds the roles pg_stat_statements now shows running each statement to those its text records (only where one is new). */
async function recordStatementRoles(tx: Sql, schema: string): Promise<void> {
  await tx`
    update ops.query_texts t
    set roles = array(select distinct r from unnest(t.roles || seen.roles) as r order by r)
    from (
      select s.queryid, array_agg(distinct r.rolname::text) as roles
      from ${tx(schema)}.pg_stat_statements s
      join pg_roles r on r.oid = s.userid
      where s.dbid = (select oid from pg_database where datname = current_database())
      group by s.queryid
    ) seen
    where seen.queryid = t.queryid and not t.roles @> seen.roles`;
}

/**
 * Texts the regular expressions redacted before the lexer did, `limit` at a time: redacted
 * again from pg_stat_statements' original where it still has one. Without it, a text keeps its
 * first keyword only: the expressions could fold a newline into a "literal" and leave a secret
 * inside what now reads as a comment, which no lexer would know to take out.
 */
export async function redactStoredTextsAgain(tx: Sql, schema: string | undefined, limit = 1000): Promise<number> {
  const stored = await tx<{ queryId: string; original: string | null; query: string }[]>`
    select t.queryid::text as "queryId", t.query, ${
      schema
        ? tx`(
      select min(s.query) from ${tx(schema)}.pg_stat_statements s
      where s.queryid = t.queryid and s.dbid = (select oid from pg_database where datname = current_database()))`
        : tx`null::text`
    } as original
    from ops.query_texts t
    where not t.lexer
    order by t.queryid
    limit ${limit}`;
  if (!stored.length) return 0;
  await redactionReady();
  const texts = stored.map(({ queryId, original, query }) => ({ queryId, query: original === null ? firstKeywordOnly(query) : redactedStatement(original) }));
  await tx`
    update ops.query_texts t set query = e ->> 'query', lexer = true
    from jsonb_array_elements(${tx.json(texts)}::jsonb) e
    where t.queryid = (e ->> 'queryId')::bigint`;
  return stored.length;
}

/** Stores the statements' texts once and their work since the previous snapshot; returns how many statements. */
export async function recordQueryStats(tx: Sql, schema: string, snapshotId: string): Promise<number> {
  await storeNewTexts(tx, schema);
  await recordStatementRoles(tx, schema);
  const inserted = await tx`
    with snapshot as (
      select id, taken_at, statements_reset_at
      from ops.db_stats_snapshots
      where id = ${snapshotId}
    ),
    previous as (
      select s.id, s.taken_at
      from ops.db_stats_snapshots s
      where s.id < ${snapshotId}
      order by s.id desc
      limit 1
    ),
    reset_since_previous as (
      select coalesce((select sn.statements_reset_at > p.taken_at from snapshot sn, previous p), false) as reset
    ),
    -- Statements first seen after the texts were stored (that insert is one) wait for the
    -- next snapshot, which counts them from their start.
    current_counters as (
      select s.queryid, sum(s.calls) as calls, sum(s.total_exec_time) as total_ms
      from ${tx(schema)}.pg_stat_statements s
      join ops.query_texts t on t.queryid = s.queryid
      where s.dbid = (select oid from pg_database where datname = current_database())
      group by s.queryid
    ),
    work as (
      select
        c.queryid,
        c.calls as cumulative_calls,
        c.total_ms as cumulative_total_ms,
        case
          when not exists (select 1 from previous) then 0
          when p.queryid is null or (select reset from reset_since_previous) or c.calls < p.cumulative_calls then c.calls
          else c.calls - p.cumulative_calls
        end as calls,
        case
          when not exists (select 1 from previous) then 0
          when p.queryid is null or (select reset from reset_since_previous) or c.calls < p.cumulative_calls then c.total_ms
          else greatest(c.total_ms - p.cumulative_total_ms, 0)
        end as total_ms
      from current_counters c
      left join ops.query_stats p
        on p.queryid = c.queryid
        and p.snapshot_id = (select id from previous)
    )
    insert into ops.query_stats (
      snapshot_id, queryid, calls, total_ms, mean_ms, cumulative_calls, cumulative_total_ms, taken_at)
    select
      ${snapshotId},
      w.queryid,
      w.calls,
      w.total_ms,
      case when w.calls > 0 then w.total_ms / w.calls end,
      w.cumulative_calls,
      w.cumulative_total_ms,
      (select taken_at from snapshot)
    from work w`;
  return inserted.count;
}

/** Adds the snapshot's per-statement work to its hour's and its day's rollups (UTC). */
export async function rollUpQueryStats(tx: Sql, snapshotId: string): Promise<void> {
  await tx`
    insert into ops.query_stats_hourly as h (hour, queryid, calls, total_ms)
    select date_trunc('hour', taken_at, 'UTC'), queryid, calls, total_ms
    from ops.query_stats
    where snapshot_id = ${snapshotId} and calls > 0
    on conflict (hour, queryid) do update
      set calls = h.calls + excluded.calls, total_ms = h.total_ms + excluded.total_ms`;
  await tx`
    insert into ops.query_stats_daily as d (day, queryid, calls, total_ms)
    select date_trunc('day', taken_at, 'UTC'), queryid, calls, total_ms
    from ops.query_stats
    where snapshot_id = ${snapshotId} and calls > 0
    on conflict (day, queryid) do update
      set calls = d.calls + excluded.calls, total_ms = d.total_ms + excluded.total_ms`;
}

/** Each rollup's table and the column of its period. */
const ROLLUPS = {
  hourly: { table: "query_stats_hourly", period: "hour" },
  daily: { table: "query_stats_daily", period: "day" },
} as const;

/** Deletes up to `batch` rows of a rollup older than `days` days; returns how many it deleted. */
export async function pruneRollups(tx: Sql, rollup: keyof typeof ROLLUPS, days: number, batch: number): Promise<number> {
  const { table, period } = ROLLUPS[rollup];
  const deleted = await tx`
    delete from ${tx("ops." + table)}
    where (${tx(period)}, queryid) in (
      select ${tx(period)}, queryid
      from ${tx("ops." + table)}
      where ${tx(period)} < now() - make_interval(days => ${days})
      limit ${batch})`;
  return deleted.count;
}

/** Deletes up to `batch` rows older than `days` days; returns how many it deleted. */
export async function pruneQueryStats(tx: Sql, days: number, batch: number): Promise<number> {
  const deleted = await tx`
    delete from ops.query_stats
    where (snapshot_id, queryid) in (
      select snapshot_id, queryid
      from ops.query_stats
      where taken_at < now() - make_interval(days => ${days})
      limit ${batch})`;
  return deleted.count;
}

export async function pruneSnapshots(tx: Sql, days: number, batch: number): Promise<number> {
  const deleted = await tx`
    delete from ops.db_stats_snapshots
    where id in (
      select id
      from ops.db_stats_snapshots
      where taken_at < now() - make_interval(days => ${days})
      order by id
      limit ${batch})`;
  return deleted.count;
}

export interface WindowFigures {
  windowSeconds: number | null;
  statementP95Ms: number | null;
  slowCalls: number | null;
}

/**
 * The snapshot's window (since the previous snapshot): the p95 of statement time, taking each
 * statement's mean for each of its calls, and the calls of statements averaging `slowMs` or more.
 */
export async function windowFigures(tx: Sql, snapshotId: string, slowMs: number): Promise<WindowFigures> {
  const [row] = await tx<WindowFigures[]>`
    with snapshot as (
      select id, taken_at from ops.db_stats_snapshots where id = ${snapshotId}
    ),
    previous as (
      select taken_at from ops.db_stats_snapshots where id < ${snapshotId} order by id desc limit 1
    ),
    work as (
      select mean_ms, calls from ops.query_stats where snapshot_id = ${snapshotId} and calls > 0
    ),
    ranked as (
      select mean_ms, sum(calls) over (order by mean_ms rows unbounded preceding) as running, sum(calls) over () as total
      from work
    )
    select
      (select extract(epoch from s.taken_at - p.taken_at)::float8 from snapshot s, previous p) as "windowSeconds",
      (select min(mean_ms) from ranked where running >= 0.95 * total)::float8 as "statementP95Ms",
      (select coalesce(sum(calls), 0) from work where mean_ms >= ${slowMs})::float8 as "slowCalls"`;
  return row ?? { windowSeconds: null, statementP95Ms: null, slowCalls: null };
}

export async function storeThresholdResults(
  tx: Sql,
  snapshotId: string,
  results: Array<{ metric: string; value: number; status: string; target: number; alert: number }>,
): Promise<void> {
  if (!results.length) return;
  await tx`
    insert into ops.threshold_results (snapshot_id, metric, value, status, target, alert_level)
    select ${snapshotId}, r.metric, r.value, r.status, r.target, r.alert
    from jsonb_to_recordset(${tx.json(results)}) as r (metric text, value float8, status text, target float8, alert float8)`;
}
