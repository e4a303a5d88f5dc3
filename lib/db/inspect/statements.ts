/** Statement statistics from pg_stat_statements, where the server collects them. */
import type postgres from "postgres";
import type { Sql } from "../pool.js";

export type StatementsAvailability = { available: true; schema: string } | { available: false; reason: string };

/** Whether pg_stat_statements can be read here, and from which schema. */
export async function statementsAvailability(sql: Sql): Promise<StatementsAvailability> {
  const [extension] = await sql<{ schema: string }[]>`
    select n.nspname as schema
    from pg_extension e
    join pg_namespace n on n.oid = e.extnamespace
    where e.extname = 'pg_stat_statements'`;
  if (!extension) return { available: false, reason: "the pg_stat_statements extension is not installed" };
  const [loaded] = await sql<{ preloaded: boolean }[]>`
    select 'pg_stat_statements' = any(string_to_array(replace(current_setting('shared_preload_libraries'), ' ', ''), ',')) as preloaded`;
  if (!loaded?.preloaded) return { available: false, reason: "pg_stat_statements is not in shared_preload_libraries" };
  return { available: true, schema: extension.schema };
}

/** What counts as a slow statement, everywhere: called this often, this slow on average. */
export const SLOW_STATEMENT: Readonly<{ minCalls: number; minMeanMs: number }> = { minCalls: 100, minMeanMs: 20 };

export interface StatementStats {
  queryId: string;
  query: string;
  calls: number;
  totalMs: number;
  meanMs: number;
  rows: number;
  /** This statement's share of all statement time in this database, 0 to 1. */
  shareOfTotal: number;
}

export type StatementOrder = "total" | "mean" | "calls";

function orderBy(sql: Sql, order: StatementOrder): postgres.PendingQuery<postgres.Row[]> {
  if (order === "mean") return sql`mean_exec_time`;
  if (order === "calls") return sql`calls`;
  return sql`total_exec_time`;
}

/** The top statements of this database by total time, mean time or calls. */
export async function topStatements(
  sql: Sql,
  schema: string,
  { order = "total", limit = 20, minCalls = 0, minMeanMs = 0 }: { order?: StatementOrder; limit?: number; minCalls?: number; minMeanMs?: number } = {},
): Promise<StatementStats[]> {
  return sql<StatementStats[]>`
    with mine as (
      select *
      from ${sql(schema)}.pg_stat_statements
      where dbid = (select oid from pg_database where datname = current_database())
    )
    select
      queryid::text as "queryId",
      left(ops.redacted_statement(query), 1000) as query,
      calls::float8 as calls,
      round(total_exec_time::numeric, 3)::float8 as "totalMs",
      round(mean_exec_time::numeric, 3)::float8 as "meanMs",
      rows::float8 as rows,
      round((total_exec_time / nullif(sum(total_exec_time) over (), 0))::numeric, 4)::float8 as "shareOfTotal"
    from mine
    where calls >= ${minCalls}
      and mean_exec_time >= ${minMeanMs}
    order by ${orderBy(sql, order)} desc, queryid
    limit ${limit}`;
}

/** Slow statements: called at least `minCalls` times with a mean of at least `minMeanMs` (SLOW_STATEMENT). */
export function slowStatements(
  sql: Sql,
  schema: string,
  { minCalls = SLOW_STATEMENT.minCalls, minMeanMs = SLOW_STATEMENT.minMeanMs, limit = 20 } = {},
): Promise<StatementStats[]> {
  return topStatements(sql, schema, { order: "mean", limit, minCalls, minMeanMs });
}
