/**
 * Statements that got slower, from the stats-snapshot history (ops.*): with the newest deploy,
 * or with a change of plan the snapshots' fingerprints caught. A verdict names the plan change
 * that coincides with a regression.
 */
import type { Sql } from "../pool.js";
import { planChanges, type PlanChange } from "../../data/statement-plans.js";
import { timesText } from "../../units.js";

/** How close to a deploy a plan change counts as coinciding with its regression: the snapshots either side of it. A later one is its own regression (planChangeRegressions). */
const COINCIDING_MS = 15 * 60 * 1000;

export interface StatementRegression {
  queryId: string;
  query: string;
  deployBefore: string | null;
  deployAfter: string;
  /** When the snapshots first saw the deploy (ISO). */
  deployAt: string;
  meanMsBefore: number;
  meanMsAfter: number;
  callsBefore: number;
  callsAfter: number;
  /** The plan change that coincides with it, if the snapshots caught one. */
  planChange: Pick<PlanChange, "at" | "from" | "to"> | null;
  /** In words: "mean 3x since deploy abc1234 at 14:05 UTC, plan changed from ... to ... at 14:05 UTC". */
  verdict: string;
}

/** 14:05 UTC */
const clock = (iso: string) => `${iso.slice(11, 16)} UTC`;

const ratio = (before: number | null, after: number | null) => timesText(after ?? 0, before ?? 0);

const planWords = (change: Pick<PlanChange, "at" | "from" | "to">) => `plan changed from ${change.from} to ${change.to} at ${clock(change.at)}`;

/** A plan change's verdict: "mean 3x since 14:05 UTC, plan changed from Index Scan using idx_x on t to Seq Scan on t at 14:05 UTC". */
export function planChangeVerdict(change: PlanChange): string {
  return `mean ${ratio(change.meanMsBefore, change.meanMsAfter)} since ${clock(change.at)}, ${planWords(change)}`;
}

/** Plan changes of the last `windowHours` whose statement got slower with them (see planChanges), each with its verdict. */
export async function planChangeRegressions(
  sql: Sql,
  options: { windowHours?: number; minIncreaseRatio?: number; minIncreaseMs?: number; minCalls?: number } = {},
): Promise<Array<PlanChange & { verdict: string }>> {
  const since = new Date(Date.now() - (options.windowHours ?? 24) * 3600 * 1000);
  const changes = await planChanges(sql, { ...options, since });
  return changes.filter((change) => change.regression).map((change) => ({ ...change, verdict: planChangeVerdict(change) }));
}

/**
 * Compares each statement's mean over its first `windowHours` under the newest deploy with its
 * mean over the `windowHours` before that deploy: a regression is a mean up by
 * `minIncreaseRatio` and by at least `minIncreaseMs`, with `minCalls` calls on each side.
 * Whole hours come from the hourly rollups and only the deploy's own hour from the snapshots,
 * so the work read stays near 2 x `windowHours` rows a statement, whatever the history holds.
 * @default 0.5 (half), 5 ms, 10 calls, 24 h
 */
export async function statementRegressions(
  sql: Sql,
  { minIncreaseRatio = 0.5, minIncreaseMs = 5, minCalls = 10, windowHours = 24 } = {},
): Promise<StatementRegression[]> {
  const regressions = await deployRegressions(sql, { minIncreaseRatio, minIncreaseMs, minCalls, windowHours });
  const [first] = regressions;
  if (!first) return [];
  const changes = await planChanges(sql, { since: new Date(Date.parse(first.deployAt) - COINCIDING_MS) });
  return regressions.map((regression) => {
    const change = changes.find((c) => c.queryId === regression.queryId && Math.abs(Date.parse(c.at) - Date.parse(regression.deployAt)) <= COINCIDING_MS);
    const planChange = change ? { at: change.at, from: change.from, to: change.to } : null;
    const verdict =
      `mean ${ratio(regression.meanMsBefore, regression.meanMsAfter)} since deploy ${regression.deployAfter.slice(0, 7)} at ${clock(regression.deployAt)}` +
      (planChange ? `, ${planWords(planChange)}` : "");
    return { ...regression, planChange, verdict };
  });
}

async function deployRegressions(
  sql: Sql,
  { minIncreaseRatio, minIncreaseMs, minCalls, windowHours }: { minIncreaseRatio: number; minIncreaseMs: number; minCalls: number; windowHours: number },
): Promise<Array<Omit<StatementRegression, "planChange" | "verdict">>> {
  return sql<Array<Omit<StatementRegression, "planChange" | "verdict">>>`
    with ordered as (
      select id, taken_at, deploy_id, lag(deploy_id) over (order by id) as previous_deploy
      from ops.db_stats_snapshots
    ),
    change as (
      select taken_at as at, date_trunc('hour', taken_at, 'UTC') as hour, deploy_id, previous_deploy
      from ordered
      where deploy_id is not null and deploy_id is distinct from previous_deploy and previous_deploy is not null
      order by id desc
      limit 1
    ),
    work as (
      -- the whole hours before the deploy's hour, and that hour up to the deploy
      select h.queryid, 'before' as side, h.calls, h.total_ms
      from ops.query_stats_hourly h, change c
      where h.hour >= c.hour - make_interval(hours => ${windowHours}) and h.hour < c.hour
      union all
      select q.queryid, case when q.taken_at < c.at then 'before' else 'after' end, q.calls, q.total_ms
      from ops.query_stats q, change c
      where q.taken_at >= c.hour and q.taken_at < c.hour + interval '1 hour'
      union all
      -- the whole hours after it
      select h.queryid, 'after', h.calls, h.total_ms
      from ops.query_stats_hourly h, change c
      where h.hour >= c.hour + interval '1 hour' and h.hour < c.hour + make_interval(hours => ${windowHours} + 1)
    ),
    sides as (
      select queryid, side, sum(calls) as calls, sum(total_ms) as total_ms
      from work
      group by 1, 2
    ),
    compared as (
      select
        b.queryid,
        b.total_ms / b.calls as mean_before,
        a.total_ms / a.calls as mean_after,
        b.calls as calls_before,
        a.calls as calls_after
      from sides b
      join sides a on a.queryid = b.queryid and a.side = 'after'
      where b.side = 'before' and b.calls >= ${minCalls} and a.calls >= ${minCalls}
    )
    select
      c.queryid::text as "queryId",
      left(t.query, 1000) as query,
      (select previous_deploy from change) as "deployBefore",
      (select deploy_id from change) as "deployAfter",
      (select api_timestamp(at) from change) as "deployAt",
      round(c.mean_before::numeric, 3)::float8 as "meanMsBefore",
      round(c.mean_after::numeric, 3)::float8 as "meanMsAfter",
      c.calls_before::float8 as "callsBefore",
      c.calls_after::float8 as "callsAfter"
    from compared c
    join ops.query_texts t on t.queryid = c.queryid
    where c.mean_after >= c.mean_before * (1 + ${minIncreaseRatio}::float8)
      and c.mean_after - c.mean_before >= ${minIncreaseMs}::float8
    order by c.mean_after - c.mean_before desc, c.queryid`;
}
