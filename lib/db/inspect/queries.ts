/** What runs now in this database: active queries, long-running ones, and who blocks whom. */
import type { Sql } from "../pool.js";
import { redactionReady, shownStatement } from "../redaction.js";

export interface RunningQuery {
  pid: number;
  application: string;
  state: string;
  durationSeconds: number;
  waitEvent: string | null;
  query: string;
}

/** Client queries running (or sitting in a transaction) for at least `minDurationSeconds`, longest first. */
export async function runningQueries(sql: Sql, { minDurationSeconds = 0 } = {}): Promise<RunningQuery[]> {
  await redactionReady();
  const rows = await sql<RunningQuery[]>`
    select
      pid,
      coalesce(nullif(application_name, ''), '(none)') as application,
      state,
      round(extract(epoch from now() - coalesce(query_start, xact_start))::numeric, 3)::float8 as "durationSeconds",
      case when wait_event_type is null then null else wait_event_type || ':' || wait_event end as "waitEvent",
      query
    from pg_stat_activity
    where backend_type = 'client backend'
      and datname = current_database()
      and pid <> pg_backend_pid()
      and state <> 'idle'
      and now() - coalesce(query_start, xact_start) >= make_interval(secs => ${minDurationSeconds})
    order by "durationSeconds" desc, pid`;
  return rows.map((row) => ({ ...row, query: shownStatement(row.query, 500) }));
}

/** Long-running queries: running at least `thresholdSeconds`. @default 60 s */
export function longRunningQueries(sql: Sql, { thresholdSeconds = 60 } = {}): Promise<RunningQuery[]> {
  return runningQueries(sql, { minDurationSeconds: thresholdSeconds });
}

export interface BlockedSession {
  pid: number;
  blockedBy: number[];
  /** The session at the root of the chain: blocked by nobody itself. */
  rootBlocker: number;
  lockWaitSeconds: number;
  waitEvent: string | null;
  query: string;
  blockerQuery: string | null;
  blockerState: string | null;
}

/**
 * Every waiting session with the sessions blocking it (`pg_blocking_pids`: relation locks,
 * row locks and transaction ids alike) and the root of its chain, longest wait first.
 */
export async function blockedSessions(sql: Sql): Promise<BlockedSession[]> {
  await redactionReady();
  const rows = await sql<BlockedSession[]>`
    with recursive waiting as (
      select
        a.pid,
        pg_blocking_pids(a.pid) as blocked_by,
        a.wait_event_type,
        a.wait_event,
        a.query,
        a.state_change
      from pg_stat_activity a
      where a.datname = current_database()
        and cardinality(pg_blocking_pids(a.pid)) > 0
    ),
    chain as (
      select w.pid, b as blocker, 1 as depth
      from waiting w, unnest(w.blocked_by) as b
      union
      select c.pid, b, c.depth + 1
      from chain c
      join waiting w on w.pid = c.blocker
      cross join unnest(w.blocked_by) as b
      where c.depth < 20
    ),
    roots as (
      select distinct on (c.pid) c.pid, c.blocker as root
      from chain c
      where not exists (select 1 from waiting w where w.pid = c.blocker)
      order by c.pid, c.depth desc, c.blocker
    )
    select
      w.pid,
      to_json(w.blocked_by) as "blockedBy",
      coalesce(r.root, w.blocked_by[1]) as "rootBlocker",
      round(extract(epoch from now() - w.state_change)::numeric, 3)::float8 as "lockWaitSeconds",
      case when w.wait_event_type is null then null else w.wait_event_type || ':' || w.wait_event end as "waitEvent",
      w.query,
      b.query as "blockerQuery",
      b.state as "blockerState"
    from waiting w
    left join roots r on r.pid = w.pid
    left join pg_stat_activity b on b.pid = w.blocked_by[1]
    order by "lockWaitSeconds" desc, w.pid`;
  return rows.map((row) => ({
    ...row,
    query: shownStatement(row.query, 500),
    blockerQuery: row.blockerQuery === null ? null : shownStatement(row.blockerQuery, 500),
  }));
}
