/**
 * Index advice with hypopg: for the slowest statements pg_stat_statements has seen, plan
 * each one generically, try hypothetical indexes on the columns its plan filters, joins and
 * sorts on, and keep the index that cuts the plan's cost the most, when it cuts it by at
 * least half. Nothing is built: hypothetical indexes live in this backend's memory only and
 * are dropped before the transaction ends.
 *
 * The statement texts are the server's own (pg_stat_statements, normalized with $n
 * placeholders), never a caller's input, and only those plannable.ts allows are planned: the
 * platform role's own, calling nothing outside pg_catalog and the installed extensions. Each is
 * prepared under a fixed name through the extended protocol (one statement only) in the
 * inspection's read-only transaction, as the role that ran it, and only ever explained, never
 * executed. Callers run this on a connection of its own, closed after: nothing a plan did to
 * the session (a lock, a setting) outlives it.
 */
import type postgres from "postgres";
import { SLOW_STATEMENT } from "./statements.js";
import { ownSchema } from "./probe.js";
import type { Sql, Transaction } from "../pool.js";
import { describedError } from "../../errors.js";
import { redactionReady, shownStatement } from "../redaction.js";
import { plannability } from "./plannable.js";
import { statementShape } from "./statement-shape.js";

export type HypopgAvailability = { available: true; schema: string } | { available: false; reason: string };

/** Whether hypothetical indexes can be made here, and from which schema. */
export async function hypopgAvailability(sql: Sql): Promise<HypopgAvailability> {
  const [row] = await sql<{ schema: string | null; offered: boolean }[]>`
    select
      (select n.nspname from pg_extension e join pg_namespace n on n.oid = e.extnamespace where e.extname = 'hypopg') as schema,
      exists (select 1 from pg_available_extensions where name = 'hypopg') as offered`;
  if (row?.schema) return { available: true, schema: row.schema };
  return {
    available: false,
    reason: row?.offered
      ? "hypopg is offered by this server but not installed in this database: run `create extension hypopg with schema extensions`"
      : "the hypopg extension is not available on this server (Supabase ships it; on Debian: apt-get install postgresql-15-hypopg)",
  };
}

export interface AdviceCandidate {
  queryId: string;
  /** The normalized text, as pg_stat_statements keeps it: what is prepared and explained, when plannable. */
  query: string;
  /** The text as shown: without constants (redaction.ts). */
  shownQuery: string;
  /** The roles pg_stat_statements recorded it for. */
  roles: string[];
  calls: number;
  meanMs: number;
}

/** Rows as read, the shown text redacted here: the raw text never leaves this module unredacted. */
async function candidatesOf(rows: Array<Omit<AdviceCandidate, "shownQuery">>): Promise<AdviceCandidate[]> {
  await redactionReady();
  return rows.map((row) => ({ ...row, shownQuery: shownStatement(row.query, 1000) }));
}

/**
 * The statements worth advice: this database's slow ones (called at least `minCalls` times,
 * `minMeanMs` on average), most total time first, that a plan can be made for.
 * (SLOW_STATEMENT, ten at most)
 */
export async function adviceCandidates(
  sql: Sql,
  statementsSchema: string,
  { minCalls = SLOW_STATEMENT.minCalls, minMeanMs = SLOW_STATEMENT.minMeanMs, limit = 10 } = {},
): Promise<AdviceCandidate[]> {
  return candidatesOf(
    await sql<Array<Omit<AdviceCandidate, "shownQuery">>>`
    select queryid::text as "queryId", query, json_build_array(pg_get_userbyid(userid)) as roles, calls::float8 as calls,
      round(mean_exec_time::numeric, 3)::float8 as "meanMs"
    from ${sql(statementsSchema)}.pg_stat_statements
    where dbid = (select oid from pg_database where datname = current_database())
      and calls >= ${minCalls}
      and mean_exec_time >= ${minMeanMs}
      and query ~* '^\\s*(/\\*.*?\\*/\\s*)*(select|with|update|delete)\\M'
    order by total_exec_time desc, queryid
    limit ${limit}`,
  );
}

/** Fields in the order a person reads them, the statement to run last. */
export interface IndexAdvice {
  table: string;
  columns: string[];
  /** The table's schema and name, apart. */
  relation: Relation;
  /** The name the create statement gives the index. */
  indexName: string;
  costBefore: number;
  costAfter: number;
  /** The share of the plan's cost the index removes, 0 to 1. */
  costCut: number;
  /** hypopg's estimate of the index's size. */
  estimatedSizeBytes: number;
  calls: number;
  meanMs: number;
  queryId: string;
  query: string;
  /** The index to build, without locking the table against writes. */
  createStatement: string;
}

export interface SkippedStatement {
  queryId: string;
  query: string;
  reason: string;
}

export interface AdviceResult {
  advice: IndexAdvice[];
  skipped: SkippedStatement[];
}

export interface PlanNode {
  "Node Type"?: string;
  "Relation Name"?: string;
  Schema?: string;
  Alias?: string;
  Plans?: PlanNode[];
  [field: string]: unknown;
}

export interface Relation {
  schema: string;
  table: string;
}

interface Trial {
  relation: Relation;
  columns: string[];
  cost: number;
  sizeBytes: number;
}

const STATEMENT_NAME = "gap_index_advice";
/** The extended protocol parses one statement only: a text holding two cannot slip a second in. */
const ONE_STATEMENT: postgres.UnsafeQueryOptions & { simple: boolean } = { prepare: false, simple: false };
/** Filter-like plan fields whose column references say what an index could serve. */
const CONDITION_FIELDS = ["Filter", "Join Filter", "Hash Cond", "Merge Cond"] as const;
const MAX_RELATIONS = 4;
const MAX_KEY_COLUMNS = 3;
/** A candidate within this share of the cheapest plan counts as as good: fewer columns, then the order tried, win. */
const COST_TOLERANCE = 0.1;

function planNodes(node: PlanNode): PlanNode[] {
  return [node, ...(node.Plans ?? []).flatMap(planNodes)];
}

/** `alias.column` references in a plan expression (EXPLAIN VERBOSE qualifies every column). */
function columnReferences(expression: string): { alias: string; column: string }[] {
  const identifier = String.raw`"(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*`;
  const pattern = new RegExp(String.raw`(${identifier})\.(${identifier})`, "g");
  const unquoted = (name: string) => (name.startsWith('"') ? name.slice(1, -1).replaceAll('""', '"') : name);
  return [...expression.matchAll(pattern)].map((match) => ({ alias: unquoted(match[1] ?? ""), column: unquoted(match[2] ?? "") }));
}

function expressionsOf(node: PlanNode, fields: readonly string[]): string[] {
  return fields.flatMap((field) => {
    const value = node[field];
    if (typeof value === "string") return [value];
    if (Array.isArray(value)) return value.filter((item): item is string => typeof item === "string");
    return [];
  });
}

interface RelationColumns {
  relation: Relation;
  keys: string[];
  sorts: string[];
}

/**
 * Per relation scanned, the columns its filters and join conditions name (key columns), and
 * the ones it is sorted by. An index scan's own condition counts only where a filter follows it.
 */
function columnsByRelation(plan: PlanNode): RelationColumns[] {
  const nodes = planNodes(plan);
  const byAlias = new Map<string, RelationColumns>();
  for (const node of nodes) {
    if (node["Relation Name"] && node.Schema && node.Alias && !byAlias.has(node.Alias)) {
      byAlias.set(node.Alias, { relation: { schema: node.Schema, table: node["Relation Name"] }, keys: [], sorts: [] });
    }
  }
  const add = (expressions: string[], kind: "keys" | "sorts") => {
    for (const expression of expressions) {
      for (const { alias, column } of columnReferences(expression)) {
        const entry = byAlias.get(alias);
        if (entry && !entry[kind].includes(column)) entry[kind].push(column);
      }
    }
  };
  for (const node of nodes) {
    add(expressionsOf(node, CONDITION_FIELDS), "keys");
    if (node.Filter) add(expressionsOf(node, ["Index Cond", "Recheck Cond"]), "keys");
    add(expressionsOf(node, ["Sort Key", "Presorted Key"]), "sorts");
  }
  return [...byAlias.values()].filter((entry) => entry.keys.length > 0 || entry.sorts.length > 0).slice(0, MAX_RELATIONS);
}

/** Every ordering of `size` of the given columns. */
function arrangements(columns: string[], size: number): string[][] {
  if (size === 0) return [[]];
  const result: string[][] = [];
  for (const column of columns) {
    for (const rest of arrangements(
      columns.filter((other) => other !== column),
      size - 1,
    )) {
      result.push([column, ...rest]);
    }
  }
  return result;
}

/**
 * The indexes to try: key columns (the most selective first) in every order, then each
 * followed by a sort column.
 */
function candidateColumnLists({ keys, sorts }: RelationColumns): string[][] {
  const usableKeys = keys.slice(0, MAX_KEY_COLUMNS);
  const keyLists: string[][] = [];
  for (let size = 1; size <= usableKeys.length; size++) keyLists.push(...arrangements(usableKeys, size));
  const sort = sorts.find((column) => !usableKeys.includes(column));
  return sort ? [...keyLists, ...keyLists.map((list) => [...list, sort]), [sort]] : keyLists;
}

/**
 * Of the columns named, the real columns of the relation, with their estimated number of
 * distinct values (pg_stats): the most selective lead an index.
 */
async function distinctValues(sql: Sql, { schema, table }: Relation, columns: string[]): Promise<Map<string, number>> {
  const rows = await sql<{ name: string; distinct: number }[]>`
    select
      a.attname as name,
      coalesce(case when s.n_distinct < 0 then -s.n_distinct * greatest(c.reltuples, 0) else s.n_distinct end, 0)::float8 as distinct
    from pg_attribute a
    join pg_class c on c.oid = a.attrelid
    join pg_namespace n on n.oid = c.relnamespace
    left join pg_stats s on s.schemaname = n.nspname and s.tablename = c.relname and s.attname = a.attname
    where n.nspname = ${schema} and c.relname = ${table} and c.relkind in ('r', 'p', 'm')
      and a.attnum > 0 and not a.attisdropped
      and a.attname in (select jsonb_array_elements_text(${sql.json(columns)}::jsonb))
      and ${ownSchema(sql)}`;
  return new Map(rows.map((row) => [row.name, row.distinct]));
}

/** Deallocates the advice's statement if a failed step left it prepared. */
async function deallocate(sql: Sql): Promise<void> {
  const [prepared] = await sql`select 1 as present from pg_prepared_statements where name = ${STATEMENT_NAME}`;
  if (prepared) await sql.unsafe(`deallocate ${STATEMENT_NAME}`);
}

/**
 * pg_stat_statements replaces the literal of a typed literal (`interval '1 day'`) with a
 * placeholder, which leaves `interval $2`: not valid SQL. As a cast it plans the same.
 */
export function plannableText(query: string): string {
  return query.replace(
    /\b(interval|date|time|timestamp|timestamptz|timestamp with time zone|timestamp without time zone)\s+\$(\d+)\b/gi,
    (_, type: string, n: string) => `$${n}::${type}`,
  );
}

/**
 * EXPLAIN of the statement's generic plan as it would be made now, every `$n` a parameter
 * (a prepared statement keeps its plan, and hypothetical indexes do not invalidate it, so it
 * is prepared afresh each time, and deallocated after; when a step fails, `indexAdvice`
 * deallocates it after the rollback).
 */
async function explained<T>(sql: Sql, query: string, format: "json" | "text"): Promise<T[]> {
  const text = plannableText(query);
  await sql.unsafe(`prepare ${STATEMENT_NAME} as ${text}`, [], ONE_STATEMENT);
  // The text prepared without declared types: its parameters are $1 up to the highest $n it uses.
  const { parameters } = await statementShape(text);
  const nulls = Array.from({ length: parameters }, () => "null").join(", ");
  const rows = await sql.unsafe<T[]>(`explain (format ${format}, verbose) execute ${STATEMENT_NAME}${nulls ? `(${nulls})` : ""}`, [], ONE_STATEMENT);
  await sql.unsafe(`deallocate ${STATEMENT_NAME}`);
  return rows;
}

async function genericPlan(sql: Sql, query: string): Promise<PlanNode> {
  const [row] = await explained<{ "QUERY PLAN": { Plan: PlanNode }[] }>(sql, query, "json");
  const plan = row?.["QUERY PLAN"][0]?.Plan;
  if (!plan) throw new Error("EXPLAIN returned no plan");
  return plan;
}

export type GenericPlan = { plan: string } | { plan: null; reason: string };

/** The statement's generic plan as EXPLAIN prints it, or why there is none. Runs inside a transaction of its caller. */
export async function genericPlanText(sql: Transaction, candidate: Pick<AdviceCandidate, "query" | "roles">): Promise<GenericPlan> {
  await sql`select set_config('plan_cache_mode', 'force_generic_plan', true)`;
  try {
    await asItsRole(sql, candidate);
    const rows = await sql.savepoint((sp) => explained<{ "QUERY PLAN": string }>(sp, candidate.query, "text"));
    return { plan: rows.map((row) => row["QUERY PLAN"]).join("\n") };
  } catch (error) {
    return { plan: null, reason: describedError(error) };
  } finally {
    await deallocate(sql);
  }
}

/** The statement's generic plan as EXPLAIN's JSON tree, or why there is none. Runs inside a transaction of its caller, which sets plan_cache_mode. */
export async function genericPlanTree(
  sql: Transaction,
  candidate: Pick<AdviceCandidate, "query" | "roles">,
): Promise<{ plan: PlanNode } | { plan: null; reason: string }> {
  try {
    const plan = await sql.savepoint(async (sp) => {
      await asItsRole(sp, candidate);
      return genericPlan(sp, candidate.query);
    });
    return { plan };
  } catch (error) {
    // A failed step may have left the statement prepared: a savepoint does not undo PREPARE.
    await deallocate(sql);
    return { plan: null, reason: describedError(error) };
  }
}

/** The statement pg_stat_statements knows by `queryId` in this database, as advice takes it; undefined when it has none. */
export async function statementCandidate(sql: Sql, statementsSchema: string, queryId: string): Promise<AdviceCandidate | undefined> {
  const rows = await sql<Array<Omit<AdviceCandidate, "shownQuery">>>`
    select queryid::text as "queryId", min(query) as query, json_agg(distinct pg_get_userbyid(userid)) as roles,
      sum(calls)::float8 as calls, round((sum(total_exec_time) / nullif(sum(calls), 0))::numeric, 3)::float8 as "meanMs"
    from ${sql(statementsSchema)}.pg_stat_statements
    where dbid = (select oid from pg_database where datname = current_database()) and queryid = ${queryId}::bigint
    group by queryid`;
  return (await candidatesOf(rows))[0];
}

/** Refused planning: the reason is the message, shown instead of a plan. */
class NotPlannable extends Error {}

/** Passes a statement plannable.ts allows, and takes the role that ran it for the rest of the transaction; throws NotPlannable else. */
async function asItsRole(sql: Sql, candidate: Pick<AdviceCandidate, "query" | "roles">): Promise<void> {
  const verdict = await plannability(sql, candidate.query, candidate.roles);
  if (!verdict.plannable) throw new NotPlannable(verdict.reason);
  await sql`select set_config('role', current_user, true)`;
}

const costOf = (plan: PlanNode): number => Number(plan["Total Cost"]);

/** The plan's cost with one hypothetical index, and hypopg's estimate of that index's size. */
async function trial(sql: Sql, hypopg: string, query: string, relation: Relation, columns: string[]): Promise<Trial | undefined> {
  const [index] = await sql<{ id: number }[]>`
    select indexrelid::int8::float8 as id
    from ${sql(hypopg)}.hypopg_create_index(format('create index on %I.%I (%s)', ${relation.schema}::text, ${relation.table}::text,
      (select string_agg(quote_ident(c), ', ' order by o) from jsonb_array_elements_text(${sql.json(columns)}::jsonb) with ordinality as t (c, o))))`;
  if (!index) return undefined;
  try {
    const plan = await genericPlan(sql, query);
    if (!JSON.stringify(plan).includes(`<${index.id}>`)) return undefined;
    const [size] = await sql<{ bytes: number }[]>`select ${sql(hypopg)}.hypopg_relation_size(${index.id}::oid)::float8 as bytes`;
    return { relation, columns, cost: costOf(plan), sizeBytes: size?.bytes ?? 0 };
  } finally {
    await sql`select ${sql(hypopg)}.hypopg_drop_index(${index.id}::oid)`;
  }
}

/**
 * The cheapest trial; among those about as cheap, the one with fewest columns, then the
 * first tried (its key columns the most selective first).
 */
function bestTrial(trials: Trial[]): Trial | undefined {
  const cheapest = Math.min(...trials.map((t) => t.cost));
  return trials.filter((t) => t.cost <= cheapest * (1 + COST_TOLERANCE)).sort((a, b) => a.columns.length - b.columns.length)[0];
}

/** The name an advised index is given: idx_<table>_<columns>, within PostgreSQL's 63 characters. */
const indexNameOf = ({ relation, columns }: Pick<Trial, "relation" | "columns">) => `idx_${relation.table}_${columns.join("_")}`.slice(0, 63);

async function createStatement(sql: Sql, trial: Trial): Promise<string> {
  const [row] = await sql<{ statement: string }[]>`
    select format('CREATE INDEX CONCURRENTLY %I ON %I.%I (%s)', ${indexNameOf(trial)}::text, ${trial.relation.schema}::text, ${trial.relation.table}::text,
      (select string_agg(quote_ident(c), ', ' order by o) from jsonb_array_elements_text(${sql.json(trial.columns)}::jsonb) with ordinality as t (c, o))) as statement`;
  return row?.statement ?? "";
}

async function statementAdvice(sql: Sql, hypopg: string, candidate: AdviceCandidate, minCostCut: number): Promise<IndexAdvice | undefined> {
  await asItsRole(sql, candidate);
  const baseline = await genericPlan(sql, candidate.query);
  const costBefore = costOf(baseline);
  const trials: Trial[] = [];
  for (const entry of columnsByRelation(baseline)) {
    const distinct = await distinctValues(sql, entry.relation, [...entry.keys, ...entry.sorts]);
    const keys = entry.keys.filter((c) => distinct.has(c)).sort((a, b) => (distinct.get(b) ?? 0) - (distinct.get(a) ?? 0));
    const usable = { ...entry, keys, sorts: entry.sorts.filter((c) => distinct.has(c)) };
    for (const columns of candidateColumnLists(usable)) {
      const result = await trial(sql, hypopg, candidate.query, entry.relation, columns);
      if (result) trials.push(result);
    }
  }
  const best = bestTrial(trials);
  if (!best || !(costBefore > 0) || (costBefore - best.cost) / costBefore < minCostCut) return undefined;
  return {
    table: `${best.relation.schema}.${best.relation.table}`,
    columns: best.columns,
    relation: best.relation,
    indexName: indexNameOf(best),
    costBefore,
    costAfter: best.cost,
    costCut: Math.round(((costBefore - best.cost) / costBefore) * 1000) / 1000,
    estimatedSizeBytes: best.sizeBytes,
    calls: candidate.calls,
    meanMs: candidate.meanMs,
    queryId: candidate.queryId,
    query: candidate.shownQuery,
    createStatement: await createStatement(sql, best),
  };
}

/**
 * Advice for each candidate statement. A statement that cannot be planned (its text cut
 * short by pg_stat_statements, a parameter whose type cannot be told) is listed as skipped
 * with the reason; the others go on. Runs inside the inspection's transaction.
 * @default minCostCut 0.5
 */
export async function indexAdvice(sql: Transaction, hypopg: string, candidates: readonly AdviceCandidate[], { minCostCut = 0.5 } = {}): Promise<AdviceResult> {
  const result: AdviceResult = { advice: [], skipped: [] };
  await sql`select set_config('plan_cache_mode', 'force_generic_plan', true)`;
  await sql`select ${sql(hypopg)}.hypopg_reset()`;
  for (const candidate of candidates) {
    try {
      const advice = await sql.savepoint((sp) => statementAdvice(sp, hypopg, candidate, minCostCut));
      if (advice) result.advice.push(advice);
    } catch (error) {
      result.skipped.push({ queryId: candidate.queryId, query: candidate.shownQuery, reason: describedError(error) });
    } finally {
      // Neither prepared statements nor hypothetical indexes roll back with a savepoint.
      await deallocate(sql);
      await sql`select ${sql(hypopg)}.hypopg_reset()`;
    }
  }
  return result;
}
