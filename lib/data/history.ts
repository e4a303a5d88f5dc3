/**
 * The statistics history as the dashboard reads it, over a window: each read touches a
 * bounded number of rows whatever the history holds. Database series come from the
 * snapshots (one a 5 minutes: 4,032 in 14 days), bucketed beyond a day; per-statement figures
 * come from the snapshots within an hour, the hourly rollups within a day or for one
 * statement, and the daily rollups beyond (each bucket's start rounded down to its hour or day).
 * Times are Unix seconds, series columnar (what uPlot draws).
 */
import type { Sql } from "../db/pool.js";
import type { Window } from "../ops-shared.js";

export { WINDOWS, type Window } from "../ops-shared.js";

export const WINDOW_SECONDS: Record<Window, number> = { "1h": 3600, "24h": 86_400, "7d": 604_800, "14d": 1_209_600 };

/** One point a snapshot up to a day; beyond, the highest reading of each half hour or hour. */
const BUCKET_SECONDS: Record<Window, number> = { "1h": 300, "24h": 300, "7d": 1800, "14d": 3600 };

export interface Series {
  /** Unix seconds of each point. */
  t: number[];
  /** Values by name, one per point (null where the point has none). */
  values: Record<string, Array<number | null>>;
}

interface LongRow {
  t: number;
  name: string;
  value: number | null;
}

/** Long rows (t, name, value) as columnar series over the sorted distinct times. */
function columnar(rows: LongRow[], names: readonly string[] = []): Series {
  const t = [...new Set(rows.map((row) => row.t))].sort((a, b) => a - b);
  const at = new Map(t.map((time, index) => [time, index]));
  const values: Record<string, Array<number | null>> = {};
  for (const name of [...names, ...rows.map((row) => row.name)]) values[name] ??= t.map(() => null);
  for (const row of rows) {
    const column = values[row.name];
    const index = at.get(row.t);
    if (column && index !== undefined) column[index] = row.value;
  }
  return { t, values };
}

/**
 * The snapshots' database figures over the window: size, blocked sessions, the longest
 * transaction, and client connections by state (this database's), each the highest reading of its bucket.
 */
export async function databaseSeries(sql: Sql, window: Window): Promise<Series> {
  const bucket = BUCKET_SECONDS[window];
  const rows = await sql<LongRow[]>`
    with snapshots as (
      select
        (floor(extract(epoch from taken_at) / ${bucket}) * ${bucket})::float8 as t,
        database_size_bytes,
        blocked_sessions,
        longest_transaction_seconds,
        connections_by_state
      from ops.db_stats_snapshots
      where taken_at >= now() - make_interval(secs => ${WINDOW_SECONDS[window]})
    )
    select t, 'sizeBytes' as name, max(database_size_bytes)::float8 as value from snapshots group by t
    union all
    select t, 'blockedSessions', max(blocked_sessions)::float8 from snapshots group by t
    union all
    select t, 'longestTransactionSeconds', max(longest_transaction_seconds)::float8 from snapshots group by t
    union all
    select s.t, 'connections:' || c.state, max(c.n::float8)
    from snapshots s, jsonb_each_text(s.connections_by_state) as c (state, n)
    group by s.t, c.state`;
  return columnar(rows, ["sizeBytes", "blockedSessions", "longestTransactionSeconds"]);
}

/** Each Target Metric's judged value over the window, the highest of each bucket. */
export async function thresholdSeries(sql: Sql, window: Window): Promise<Series> {
  const bucket = BUCKET_SECONDS[window];
  const rows = await sql<LongRow[]>`
    select
      (floor(extract(epoch from s.taken_at) / ${bucket}) * ${bucket})::float8 as t,
      r.metric as name,
      max(r.value)::float8 as value
    from ops.db_stats_snapshots s
    join ops.threshold_results r on r.snapshot_id = s.id
    where s.taken_at >= now() - make_interval(secs => ${WINDOW_SECONDS[window]})
    group by 1, 2`;
  return columnar(rows);
}

export interface ThresholdNow {
  metric: string;
  value: number;
  status: "ok" | "warn" | "alert";
  target: number;
  alertLevel: number;
  /** Unix seconds of the snapshot that judged it. */
  at: number;
}

/** The newest snapshot's judgement of each Target Metric. */
export async function thresholdsNow(sql: Sql): Promise<ThresholdNow[]> {
  return sql<ThresholdNow[]>`
    select r.metric, r.value, r.status, r.target, r.alert_level as "alertLevel", extract(epoch from s.taken_at)::float8 as at
    from ops.threshold_results r
    join ops.db_stats_snapshots s on s.id = r.snapshot_id
    where r.snapshot_id = (select id from ops.db_stats_snapshots order by taken_at desc limit 1)
    order by r.metric`;
}

export interface Deploy {
  /** Unix seconds of the first snapshot taken under the deploy. */
  at: number;
  deployId: string;
  previousDeployId: string | null;
}

/** The deploys that began within the window: the snapshots whose deploy differs from the one before. */
export async function deploysIn(sql: Sql, window: Window): Promise<Deploy[]> {
  return sql<Deploy[]>`
    with ordered as (
      select taken_at, deploy_id, lag(deploy_id) over (order by taken_at) as previous
      from ops.db_stats_snapshots
      where taken_at >= now() - make_interval(secs => ${WINDOW_SECONDS[window]}) - interval '1 hour'
    )
    select extract(epoch from taken_at)::float8 as at, deploy_id as "deployId", previous as "previousDeployId"
    from ordered
    where deploy_id is not null
      and deploy_id is distinct from previous
      and taken_at >= now() - make_interval(secs => ${WINDOW_SECONDS[window]})
      and (previous is not null or taken_at > (select min(taken_at) from ordered))
    order by taken_at`;
}

export interface StatementTotal {
  queryId: string;
  query: string;
  /** The roles that ran it. */
  roles: string[];
  calls: number;
  totalMs: number;
  meanMs: number | null;
  /** totalMs over the time of every statement in the window, 0 to 1. */
  shareOfTotal: number;
}

export const STATEMENT_SORTS = ["total", "mean", "calls"] as const;
export type StatementSort = (typeof STATEMENT_SORTS)[number];

export interface StatementListOptions {
  sort: StatementSort;
  /** How many to list; null for all of them (at most MAX_LISTED). */
  limit: number | null;
  /** Only statements whose text holds this, any case. */
  search?: string | undefined;
  /** Leaves out the platform's own statements (those on ops.*). */
  hidePlatform?: boolean;
  /** Ranking by mean time counts statements called at least this often. @default 10 */
  minCallsForMean?: number;
}

export interface StatementList {
  statements: StatementTotal[];
  /** How many statements of the window match, listed or not. */
  matched: number;
}

/** The most a list of "all" statements holds. */
export const MAX_LISTED = 10_000;
/** The platform's own statements: those on its ops schema. */
const PLATFORM_STATEMENT = "\\mops\\.";

/** Where a window's per-statement totals come from, and from when. */
function statementSource(window: Window): "snapshots" | "hourly" | "daily" {
  if (window === "1h") return "snapshots";
  return window === "24h" ? "hourly" : "daily";
}

/**
 * The window's statements sorted by total time, mean time or calls, each with its share of all
 * statement time in the window and the roles that ran it: one pass over the window's rows
 * (read from an index alone), filtered by text and by owner, then sorted and cut.
 */
export async function statementsIn(sql: Sql, window: Window, options: StatementListOptions): Promise<StatementList> {
  const { sort, limit, search, hidePlatform = false, minCallsForMean = 10 } = options;
  const seconds = WINDOW_SECONDS[window];
  const source = statementSource(window);
  const work =
    source === "snapshots"
      ? sql`select queryid, calls, total_ms from ops.query_stats where taken_at >= now() - make_interval(secs => ${seconds}) and calls > 0`
      : source === "hourly"
        ? sql`select queryid, calls, total_ms from ops.query_stats_hourly where hour >= date_trunc('hour', now() - make_interval(secs => ${seconds}), 'UTC')`
        : sql`select queryid, calls, total_ms from ops.query_stats_daily where day >= date_trunc('day', now() - make_interval(secs => ${seconds}), 'UTC')`;
  const rows = await sql<Array<StatementTotal & { matched: number }>>`
    with work as (${work}),
    totals as (
      select queryid, sum(calls)::float8 as calls, sum(total_ms)::float8 as total_ms
      from work
      group by queryid
    ),
    everything as (select sum(total_ms) as all_ms from totals),
    listed as (
      select t.*, q.query, q.roles
      from totals t
      join ops.query_texts q on q.queryid = t.queryid
      where (${search ?? null}::text is null or strpos(lower(q.query), lower(${search ?? null}::text)) > 0)
        and (not ${hidePlatform} or q.query !~* ${PLATFORM_STATEMENT})
        and (${sort} <> 'mean' or t.calls >= ${minCallsForMean})
    )
    select
      l.queryid::text as "queryId",
      left(l.query, 500) as query,
      to_json(l.roles) as roles,
      l.calls,
      round(l.total_ms::numeric, 3)::float8 as "totalMs",
      round((l.total_ms / nullif(l.calls, 0))::numeric, 3)::float8 as "meanMs",
      coalesce(round((l.total_ms / nullif((select all_ms from everything), 0))::numeric, 4)::float8, 0) as "shareOfTotal",
      (count(*) over ())::int as matched
    from listed l
    order by
      case ${sort} when 'calls' then l.calls when 'mean' then l.total_ms / nullif(l.calls, 0) else l.total_ms end desc nulls last,
      l.queryid
    limit ${Math.min(limit ?? MAX_LISTED, MAX_LISTED)}`;
  return { statements: rows.map(({ matched: _matched, ...row }) => row), matched: rows[0]?.matched ?? 0 };
}

/**
 * Calls and mean time of each statement in `queryIds` over the window: per snapshot within a
 * day, per hour beyond. Series named `calls:<id>` and `meanMs:<id>`.
 */
export async function statementSeries(sql: Sql, window: Window, queryIds: string[]): Promise<Series> {
  if (queryIds.length === 0) return { t: [], values: {} };
  const seconds = WINDOW_SECONDS[window];
  const perSnapshot = window === "1h" || window === "24h";
  const rows = perSnapshot
    ? await sql<LongRow[]>`
        with work as (
          select extract(epoch from taken_at)::float8 as t, queryid::text as id, calls, total_ms
          from ops.query_stats
          where queryid in (select jsonb_array_elements_text(${sql.json(queryIds)})::bigint) and taken_at >= now() - make_interval(secs => ${seconds})
        )
        select t, 'calls:' || id as name, calls::float8 as value from work
        union all
        select t, 'meanMs:' || id, round((total_ms / nullif(calls, 0))::numeric, 3)::float8 from work`
    : await sql<LongRow[]>`
        with work as (
          select extract(epoch from hour)::float8 as t, queryid::text as id, calls, total_ms
          from ops.query_stats_hourly
          where queryid in (select jsonb_array_elements_text(${sql.json(queryIds)})::bigint) and hour >= date_trunc('hour', now() - make_interval(secs => ${seconds}), 'UTC')
        )
        select t, 'calls:' || id as name, calls::float8 as value from work
        union all
        select t, 'meanMs:' || id, round((total_ms / nullif(calls, 0))::numeric, 3)::float8 from work`;
  return columnar(rows);
}

export interface StatementText {
  queryId: string;
  query: string;
  firstSeenAt: string;
}

export async function statementText(sql: Sql, queryId: string): Promise<StatementText | undefined> {
  const [row] = await sql<StatementText[]>`
    select queryid::text as "queryId", query, api_timestamp(first_seen_at) as "firstSeenAt"
    from ops.query_texts
    where queryid = ${queryId}::bigint`;
  return row;
}

export interface DeployEffect {
  /** Unix seconds the deploy's first snapshot was taken. */
  at: number;
  deployId: string;
  previousDeployId: string | null;
  meanMsBefore: number | null;
  meanMsAfter: number | null;
  callsBefore: number;
  callsAfter: number;
  /** The mean rose by half and by 5 ms or more, with 10 calls or more on each side (statementRegressions' test). */
  regression: boolean;
}

/**
 * For each deploy that began within the window: the statement's mean over the 24 hours before
 * it and under it (until the next deploy), and whether that is a regression.
 */
export async function statementDeployEffects(sql: Sql, window: Window, queryId: string): Promise<DeployEffect[]> {
  return sql<DeployEffect[]>`
    with ordered as (
      select id, taken_at, deploy_id, lag(deploy_id) over (order by taken_at) as previous
      from ops.db_stats_snapshots
      where taken_at >= now() - make_interval(secs => ${WINDOW_SECONDS[window]}) - interval '1 day'
    ),
    changes as (
      select taken_at, deploy_id, previous,
        lead(taken_at) over (order by taken_at) as next_change
      from ordered
      where deploy_id is not null and deploy_id is distinct from previous and previous is not null
    ),
    sides as (
      select
        c.taken_at,
        c.deploy_id,
        c.previous,
        sum(q.calls) filter (where q.taken_at < c.taken_at) as calls_before,
        sum(q.total_ms) filter (where q.taken_at < c.taken_at) as total_before,
        sum(q.calls) filter (where q.taken_at >= c.taken_at) as calls_after,
        sum(q.total_ms) filter (where q.taken_at >= c.taken_at) as total_after
      from changes c
      left join ops.query_stats q
        on q.queryid = ${queryId}::bigint
        and q.taken_at >= c.taken_at - interval '1 day'
        and q.taken_at < coalesce(c.next_change, 'infinity')
      where c.taken_at >= now() - make_interval(secs => ${WINDOW_SECONDS[window]})
      group by c.taken_at, c.deploy_id, c.previous
    )
    select
      extract(epoch from taken_at)::float8 as at,
      deploy_id as "deployId",
      previous as "previousDeployId",
      round((total_before / nullif(calls_before, 0))::numeric, 3)::float8 as "meanMsBefore",
      round((total_after / nullif(calls_after, 0))::numeric, 3)::float8 as "meanMsAfter",
      coalesce(calls_before, 0)::float8 as "callsBefore",
      coalesce(calls_after, 0)::float8 as "callsAfter",
      coalesce(
        calls_before >= 10 and calls_after >= 10
          and total_after / calls_after >= (total_before / calls_before) * 1.5
          and total_after / calls_after - total_before / calls_before >= 5,
        false) as regression
    from sides
    order by taken_at`;
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

/** The backups requested within the window, newest first, with every copy's place and state (at most `limit`). */
export async function backupRuns(sql: Sql, window: Window, limit = 200): Promise<BackupRun[]> {
  return sql<BackupRun[]>`
    select
      b.id::text as id,
      b.status,
      api_timestamp(b.requested_at) as "requestedAt",
      api_timestamp(b.finished_at) as "finishedAt",
      b.size_bytes::float8 as "sizeBytes",
      b.encrypted,
      b.signed,
      b.error,
      coalesce((
        select json_agg(json_build_object('location', c.location, 'status', c.status, 'verifiedAt', api_timestamp(c.verified_at)) order by c.created_at)
        from ops.backup_copies c where c.backup_id = b.id
      ), '[]') as copies
    from ops.backups b
    where b.requested_at >= now() - make_interval(secs => ${WINDOW_SECONDS[window]})
    order by b.requested_at desc, b.id desc
    limit ${limit}`;
}

export interface DrillRun {
  id: string;
  status: string;
  startedAt: string;
  finishedAt: string | null;
  recoverySeconds: number | null;
  dataAgeSeconds: number | null;
  /** The restored database's size; null for drills before it was measured. */
  restoredBytes: number | null;
  analyzeSeconds: number | null;
  source: string | null;
  error: string | null;
}

/** The drills started within the window, newest first (at most `limit`). */
export async function drillRuns(sql: Sql, window: Window, limit = 100): Promise<DrillRun[]> {
  return sql<DrillRun[]>`
    select
      id::text as id,
      status,
      api_timestamp(started_at) as "startedAt",
      api_timestamp(finished_at) as "finishedAt",
      recovery_seconds as "recoverySeconds",
      data_age_seconds as "dataAgeSeconds",
      restored_bytes::float8 as "restoredBytes",
      analyze_seconds as "analyzeSeconds",
      source,
      error
    from ops.dr_drills
    where started_at >= now() - make_interval(secs => ${WINDOW_SECONDS[window]})
    order by started_at desc, id desc
    limit ${limit}`;
}

export interface NewestDrills {
  /** The newest drill, whatever became of it. */
  newest: DrillRun | null;
  /** The newest that succeeded: its recovery time is the measured RTO. */
  newestSucceeded: DrillRun | null;
}

export interface NewestSnapshot {
  takenAt: string | null;
  /** Seconds since it was taken; null before the first. */
  ageSeconds: number | null;
}

/** When the newest stats snapshot was taken, and how long ago. */
export async function newestSnapshot(sql: Sql): Promise<NewestSnapshot> {
  const [row] = await sql<NewestSnapshot[]>`
    select
      max(taken_at)::text as "takenAt",
      extract(epoch from now() - max(taken_at))::float8 as "ageSeconds"
    from ops.db_stats_snapshots`;
  return row ?? { takenAt: null, ageSeconds: null };
}

export async function newestDrills(sql: Sql): Promise<NewestDrills> {
  const run = (succeededOnly: boolean) => sql`
    select to_json(r) from (
      select
        id::text as id, status, api_timestamp(started_at) as "startedAt", api_timestamp(finished_at) as "finishedAt",
        recovery_seconds as "recoverySeconds", data_age_seconds as "dataAgeSeconds", restored_bytes::float8 as "restoredBytes",
        analyze_seconds as "analyzeSeconds", source, error
      from ops.dr_drills
      where ${succeededOnly} = false or status = 'succeeded'
      order by started_at desc, id desc
      limit 1
    ) r`;
  const [row] = await sql<NewestDrills[]>`select (${run(false)}) as newest, (${run(true)}) as "newestSucceeded"`;
  return row ?? { newest: null, newestSucceeded: null };
}
