/**
 * Plan fingerprints as the stats snapshots saw them (ops.statement_plans): a row each time a
 * statement's plan shape differs from the one seen before it, and the plan changes read back
 * with the statement's mean time on either side.
 */
import { planDifference, type PlanFingerprint } from "../db/inspect/plan-fingerprints.js";
import type { Sql } from "../db/pool.js";

/** A statement's plan seen differing from the one before it, with its mean time on either side. */
export interface PlanChange {
  queryId: string;
  /** The snapshot that first saw the new plan (ISO). */
  at: string;
  /** The plan before: its scans, and its shape. */
  from: string;
  to: string;
  planBefore: string;
  planAfter: string;
  meanMsBefore: number | null;
  meanMsAfter: number | null;
  callsBefore: number;
  callsAfter: number;
  /** Mean up by the ratio and the milliseconds given, with enough calls on each side. */
  regression: boolean;
}

/**
 * Records each fingerprint as seen by snapshot `snapshotId` (at its time, the time its
 * statement figures carry): a statement whose newest plan has the same one
 * is marked seen again; any other gets a row. Returns the plan changes: statements that had a
 * different plan before.
 */
export async function recordPlanFingerprints(
  sql: Sql,
  snapshotId: string,
  fingerprints: readonly PlanFingerprint[],
): Promise<Array<{ queryId: string; from: string; to: string }>> {
  if (!fingerprints.length) return [];
  const rows = await sql<Array<{ queryId: string; summaryBefore: string; planBefore: string; summaryAfter: string; planAfter: string }>>`
    with snapshot as (
      select taken_at from ops.db_stats_snapshots where id = ${snapshotId}::bigint
    ),
    input as (
      select i.*
      from jsonb_to_recordset(${sql.json(fingerprints.map((f) => ({ ...f })))}::jsonb) as i ("queryId" text, fingerprint text, summary text, plan text)
    ),
    newest as (
      select distinct on (p.queryid) p.id, p.queryid, p.fingerprint, p.summary, p.plan
      from ops.statement_plans p
      where p.queryid in (select "queryId"::bigint from input)
      order by p.queryid, p.first_seen_at desc, p.id desc
    ),
    seen as (
      update ops.statement_plans p set last_seen_at = snapshot.taken_at
      from snapshot, input i join newest n on n.queryid = i."queryId"::bigint and n.fingerprint = i.fingerprint
      where p.id = n.id
      returning p.id
    ),
    added as (
      insert into ops.statement_plans (queryid, fingerprint, summary, plan, first_seen_at, last_seen_at)
      select i."queryId"::bigint, i.fingerprint, i.summary, i.plan, snapshot.taken_at, snapshot.taken_at
      from snapshot, input i left join newest n on n.queryid = i."queryId"::bigint
      where n.fingerprint is distinct from i.fingerprint
      returning queryid, summary, plan
    )
    select a.queryid::text as "queryId", n.summary as "summaryBefore", n.plan as "planBefore", a.summary as "summaryAfter", a.plan as "planAfter"
    from added a join newest n on n.queryid = a.queryid
    order by a.queryid`;
  return rows.map((row) => ({
    queryId: row.queryId,
    ...planDifference({ summary: row.summaryBefore, plan: row.planBefore }, { summary: row.summaryAfter, plan: row.planAfter }),
  }));
}

export interface PlanChangeOptions {
  /** Plan changes first seen since. */
  since: Date;
  /** One statement's only. */
  queryId?: string;
  /** How far either side of a change its mean is taken (and never past the statement's next change). @default 24 */
  windowHours?: number;
  /** @default 0.5 (half), 5 ms, 10 calls: as statementRegressions */
  minIncreaseRatio?: number;
  minIncreaseMs?: number;
  minCalls?: number;
}

/** Plan changes first seen since `since`, oldest first, each judged a regression or not. */
export async function planChanges(
  sql: Sql,
  { since, queryId, windowHours = 24, minIncreaseRatio = 0.5, minIncreaseMs = 5, minCalls = 10 }: PlanChangeOptions,
): Promise<PlanChange[]> {
  const rows = await sql<Array<Omit<PlanChange, "from" | "to"> & { summaryBefore: string; summaryAfter: string }>>`
    with plans as (
      select p.queryid, p.first_seen_at, p.summary, p.plan,
        lag(p.summary) over w as previous_summary,
        lag(p.plan) over w as previous_plan,
        lead(p.first_seen_at) over w as next_change
      from ops.statement_plans p
      where ${queryId === undefined ? sql`true` : sql`p.queryid = ${queryId}::bigint`}
      window w as (partition by p.queryid order by p.first_seen_at, p.id)
    ),
    changes as (
      select * from plans where previous_summary is not null and first_seen_at >= ${since}
    ),
    sides as (
      select c.queryid, c.first_seen_at, c.previous_summary, c.summary, c.previous_plan, c.plan,
        coalesce(sum(q.calls) filter (where q.taken_at < c.first_seen_at), 0) as calls_before,
        sum(q.total_ms) filter (where q.taken_at < c.first_seen_at) as total_before,
        coalesce(sum(q.calls) filter (where q.taken_at >= c.first_seen_at), 0) as calls_after,
        sum(q.total_ms) filter (where q.taken_at >= c.first_seen_at) as total_after
      from changes c
      left join ops.query_stats q
        on q.queryid = c.queryid
        and q.taken_at >= c.first_seen_at - make_interval(hours => ${windowHours})
        and q.taken_at < least(coalesce(c.next_change, 'infinity'), c.first_seen_at + make_interval(hours => ${windowHours}))
      group by 1, 2, 3, 4, 5, 6
    )
    select
      queryid::text as "queryId",
      api_timestamp(first_seen_at) as at,
      previous_summary as "summaryBefore",
      summary as "summaryAfter",
      previous_plan as "planBefore",
      plan as "planAfter",
      round((total_before / nullif(calls_before, 0))::numeric, 3)::float8 as "meanMsBefore",
      round((total_after / nullif(calls_after, 0))::numeric, 3)::float8 as "meanMsAfter",
      calls_before::float8 as "callsBefore",
      calls_after::float8 as "callsAfter",
      coalesce(
        calls_before >= ${minCalls} and calls_after >= ${minCalls}
          and total_after / calls_after >= (total_before / calls_before) * (1 + ${minIncreaseRatio}::float8)
          and total_after / calls_after - total_before / calls_before >= ${minIncreaseMs}::float8,
        false) as regression
    from sides
    order by first_seen_at, queryid`;
  return rows.map(({ summaryBefore, summaryAfter, ...row }) => ({
    ...row,
    ...planDifference({ summary: summaryBefore, plan: row.planBefore }, { summary: summaryAfter, plan: row.planAfter }),
  }));
}

/** Plan rows last seen more than `days` ago that a newer plan has replaced, at most `batch`; the number deleted. */
export async function pruneStatementPlans(sql: Sql, days: number, batch: number): Promise<number> {
  const rows = await sql`
    delete from ops.statement_plans
    where id in (
      select p.id from ops.statement_plans p
      where p.last_seen_at < now() - make_interval(days => ${days})
        and exists (select 1 from ops.statement_plans n where n.queryid = p.queryid and n.first_seen_at > p.first_seen_at)
      order by p.id
      limit ${batch})
    returning 1`;
  return rows.count;
}
