/** Statement statistics from pg_stat_statements, where the server collects them. */
import type postgres from "postgres";
import type { Sql, Transaction } from "../pool.js";
import { redactionReady, shownStatement } from "../redaction.js";
import { HIDDEN_QUERY } from "./visibility.js";
import { describedError } from "../../errors.js";

export type StatementsAvailability = { available: true; schema: string } | { available: false; reason: string };

/** Whether pg_stat_statements can be read here, and from which schema. */
export async function statementsAvailability(sql: Sql): Promise<StatementsAvailability> {
  const [extension] = await sql<{ schema: string }[]>`
    select n.nspname as schema
    from pg_extension e
    join pg_namespace n on n.oid = e.extnamespace
    where e.extname = 'pg_stat_statements'`;
  if (!extension) return { available: false, reason: "the pg_stat_statements extension is not installed" };
  // pg_settings leaves out a setting this role may not read (without pg_read_all_settings).
  const [setting] = await sql<{ libraries: string }[]>`select setting as libraries from pg_settings where name = 'shared_preload_libraries'`;
  if (setting) {
    const preloaded = setting.libraries.split(",").some((library) => library.trim() === "pg_stat_statements");
    return preloaded ? { available: true, schema: extension.schema } : { available: false, reason: "pg_stat_statements is not in shared_preload_libraries" };
  }
  const failure = await readFailure(sql, extension.schema);
  return failure ? { available: false, reason: `pg_stat_statements cannot be read by this role (${failure})` } : { available: true, schema: extension.schema };
}

/** Why reading the view fails, or null when it reads; in a transaction, within a savepoint. */
async function readFailure(sql: Sql, schema: string): Promise<string | null> {
  const read = (q: Sql) => q`select 1 from ${q(schema)}.pg_stat_statements limit 1`;
  try {
    if ("savepoint" in sql) await (sql as Transaction).savepoint((sp) => read(sp));
    else await read(sql);
    return null;
  } catch (error) {
    return describedError(error);
  }
}

/** What counts as a slow statement, everywhere: called this often, this slow on average. */
export const SLOW_STATEMENT: Readonly<{ minCalls: number; minMeanMs: number }> = { minCalls: 100, minMeanMs: 20 };

/** What stands for another role's statement this role may not read (it lacks pg_read_all_stats). */
export const HIDDEN_STATEMENT = "(another role's statement: its text needs pg_read_all_stats)";

export interface StatementStats {
  /** Null for another role's statement this role may not read. */
  queryId: string | null;
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
  await redactionReady();
  const rows = await sql<Array<Omit<StatementStats, "query"> & { query: string | null }>>`
    with mine as (
      select *
      from ${sql(schema)}.pg_stat_statements
      where dbid = (select oid from pg_database where datname = current_database())
    )
    select
      queryid::text as "queryId",
      case when query = ${HIDDEN_QUERY} then null else query end as query,
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
  return rows.map((row) => ({ ...row, query: row.query === null ? HIDDEN_STATEMENT : shownStatement(row.query, 1000) }));
}

/** Slow statements: called at least `minCalls` times with a mean of at least `minMeanMs` (SLOW_STATEMENT). */
export function slowStatements(
  sql: Sql,
  schema: string,
  { minCalls = SLOW_STATEMENT.minCalls, minMeanMs = SLOW_STATEMENT.minMeanMs, limit = 20 } = {},
): Promise<StatementStats[]> {
  return topStatements(sql, schema, { order: "mean", limit, minCalls, minMeanMs });
}
