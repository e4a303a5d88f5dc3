/**
 * Timing recorded statements on a restored copy, before and after an index is built or
 * dropped there. Each execution is EXPLAIN (ANALYZE, BUFFERS, TIMING OFF) of the recorded text
 * with values bound through the extended protocol (one statement only), inside a savepoint
 * that is rolled back, and so is the index built or dropped, which lives only in the
 * transaction that measured it. Only plain reads are run, and only those plannable.ts allows
 * (the platform role's own, calling nothing another role wrote): a write would fire triggers,
 * whose functions the statement does not name. Writes are planned, never run. Each execution
 * runs under a statement timeout. Callers run this on the copy, never on the database it was
 * copied from.
 */
import type postgres from "postgres";
import type { Sql, Transaction } from "../pool.js";
import { describedError } from "../../errors.js";
import { plannability } from "./plannable.js";
import { plannableText } from "./advice.js";
import { representativeValues, type ValueSet } from "./parameters.js";
import { statementShape } from "./statement-shape.js";
import { secondsSince } from "../../units.js";
import { median } from "../../median.js";

export interface RecordedStatement {
  queryId: string;
  /** The normalized text pg_stat_statements keeps: what is run. */
  query: string;
  /** Without constants: what is shown and stored. */
  shownQuery: string;
  roles: string[];
}

export interface Timing {
  /** The mean over the value sets of each set's median execution time. */
  ms: number;
  /** Shared buffers hit or read per execution, averaged the same way. */
  buffers: number;
}

export interface MeasureOptions {
  /** Timed runs of each value set, after one untimed run that warms the cache (one when that run took a second or more). @default 3 */
  runs?: number;
  /** Value sets drawn from the statistics (parameters.ts). @default 5 */
  valueSets?: number;
  /** Each execution's statement timeout. @default 30 s */
  statementTimeoutMs?: number;
  /** A build's statement timeout. @default 10 min */
  buildTimeoutMs?: number;
}

/** A warming run this slow is followed by one timed run, not `runs`. */
const SLOW_RUN_MS = 1000;

const ONE_STATEMENT: postgres.UnsafeQueryOptions & { simple: boolean } = { prepare: false, simple: false };

interface Explained {
  Plan: Record<string, unknown>;
  "Execution Time"?: number;
}

class RolledBack<T> extends Error {
  constructor(readonly value: T) {
    super("rolled back on purpose");
  }
}

/** `run`'s result, with everything it did to the database rolled back. */
export async function rolledBack<T>(tx: Transaction, run: (sp: Sql) => Promise<T>): Promise<T> {
  try {
    await tx.savepoint(async (sp) => {
      throw new RolledBack(await run(sp));
    });
  } catch (error) {
    if (error instanceof RolledBack) return error.value as T;
    throw error;
  }
  throw new Error("unreachable: the savepoint always throws");
}

async function explain(tx: Transaction, query: string, values: ValueSet, analyze: boolean): Promise<Explained> {
  const options = analyze ? "analyze, buffers, timing off, format json" : "format json";
  const run = async (sp: Sql) => {
    const [row] = await sp.unsafe<{ "QUERY PLAN": Explained[] }[]>(`explain (${options}) ${plannableText(query)}`, values, ONE_STATEMENT);
    const explained = row?.["QUERY PLAN"][0];
    if (!explained) throw new Error("EXPLAIN returned no plan");
    return explained;
  };
  return analyze ? rolledBack(tx, run) : run(tx);
}

const buffersOf = (plan: Record<string, unknown>) => Number(plan["Shared Hit Blocks"] ?? 0) + Number(plan["Shared Read Blocks"] ?? 0);

/** The statement's time with each value set: one warming run, then `runs` timed ones. */
export async function statementTiming(tx: Transaction, query: string, sets: ValueSet[], { runs = 3 }: MeasureOptions = {}): Promise<Timing> {
  const medians: number[] = [];
  const buffers: number[] = [];
  for (const values of sets) {
    const warming = await explain(tx, query, values, true);
    // A statement taking seconds is timed once: its noise is small against it, and the drill's time is not.
    const timedRuns = Number(warming["Execution Time"] ?? 0) >= SLOW_RUN_MS ? 1 : runs;
    const times: Array<{ ms: number; buffers: number }> = [];
    for (let i = 0; i < timedRuns; i++) {
      const explained = await explain(tx, query, values, true);
      times.push({ ms: Number(explained["Execution Time"] ?? 0), buffers: buffersOf(explained.Plan) });
    }
    const middle = median(times.map((t) => t.ms));
    medians.push(middle);
    buffers.push(times.find((t) => t.ms === middle)?.buffers ?? median(times.map((t) => t.buffers)));
  }
  const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / Math.max(values.length, 1);
  return { ms: Math.round(mean(medians) * 1000) / 1000, buffers: Math.round(mean(buffers)) };
}

/** The indexes a plan reads, by name. */
function indexesRead(node: Record<string, unknown>): string[] {
  const own = typeof node["Index Name"] === "string" ? [node["Index Name"]] : [];
  const children = Array.isArray(node.Plans) ? (node.Plans as Record<string, unknown>[]).flatMap(indexesRead) : [];
  return [...own, ...children];
}

/** `writes`: why the statement counts as writing (statement-shape.ts), null for a plain read: only reads are run. */
export type Runnable = { sets: ValueSet[]; writes: string | null } | { sets: null; reason: string };

/**
 * The value sets to run the statement with on the copy, or why it is not run there: another
 * role's, a text that does not parse, a parameter no value can be drawn for, or a plan that
 * fails on the copy. Reads only; a failure is rolled back to before it.
 */
export async function runnable(tx: Transaction, statement: RecordedStatement, { valueSets = 5 }: MeasureOptions = {}): Promise<Runnable> {
  const verdict = await plannability(tx, statement.query, statement.roles);
  if (!verdict.plannable) return { sets: null, reason: verdict.reason };
  try {
    return await tx.savepoint(async (sp) => {
      const text = plannableText(statement.query);
      const drawn = await representativeValues(sp, text, { count: valueSets });
      if (!drawn.sets) return drawn;
      for (const values of drawn.sets) await explain(tx, statement.query, values, false);
      const { writes } = await statementShape(text);
      // A write is only planned (its NULLs will do for that); a read is timed, which needs every value.
      const [unmapped] = drawn.unmapped;
      if (!writes && unmapped !== undefined) {
        return { sets: null, reason: `$${unmapped} is not compared with a column, so no value for it can be drawn from the statistics` };
      }
      return { sets: drawn.sets, writes };
    });
  } catch (error) {
    return { sets: null, reason: `not run on the copy: ${describedError(error)}` };
  }
}

/** Why a statement whose plans do not read an index needs no timing for its drop. */
export const NOT_READ = "its plans on the copy do not read the index: dropping it leaves them as they are";

/** Why a writing statement is not timed. */
export const notRunWriting = (writes: string) => `not run on the copy: ${writes}; only plain reads are run there, so that no trigger fires`;

/** Whether any of the statement's plans with these values reads the index. */
async function readsIndex(tx: Transaction, query: string, sets: ValueSet[], index: string): Promise<boolean> {
  for (const values of sets) if (indexesRead((await explain(tx, query, values, false)).Plan).includes(index)) return true;
  return false;
}

/** Each execution's statement timeout, for the rest of the copy's transaction. */
export async function limitStatements(tx: Transaction, { statementTimeoutMs = 30_000 }: MeasureOptions = {}): Promise<void> {
  await tx`select set_config('statement_timeout', ${String(statementTimeoutMs)}, true)`;
}

export interface IndexToBuild {
  schema: string;
  table: string;
  columns: string[];
  name: string;
}

export interface BuildMeasurement {
  before: Timing;
  after: Timing;
  buildSeconds: number;
  sizeBytes: number;
  /** Whether a plan read the built index. */
  used: boolean;
}

/** The statement's time on the copy without and with the index, and what building it took; rolled back after. */
export async function measuredBuild(
  tx: Transaction,
  statement: RecordedStatement,
  sets: ValueSet[],
  index: IndexToBuild,
  options: MeasureOptions = {},
): Promise<BuildMeasurement> {
  const before = await statementTiming(tx, statement.query, sets, options);
  return rolledBack(tx, async (sp) => {
    await limitStatements(tx, { statementTimeoutMs: options.buildTimeoutMs ?? 600_000 });
    const started = performance.now();
    await sp`create index ${sp(index.name)} on ${sp(index.schema)}.${sp(index.table)} (${sp(index.columns)})`;
    const buildSeconds = secondsSince(started);
    await limitStatements(tx, options);
    const [size] = await sp<{ bytes: number }[]>`
      select pg_relation_size(c.oid)::float8 as bytes
      from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = ${index.schema} and c.relname = ${index.name}`;
    const used = await readsIndex(tx, statement.query, sets, index.name);
    const after = await statementTiming(tx, statement.query, sets, options);
    return { before, after, buildSeconds, sizeBytes: size?.bytes ?? 0, used };
  });
}

export interface IndexToDrop {
  schema: string;
  table: string;
  index: string;
}

export interface DropEffect {
  queryId: string;
  query: string;
  before: Timing;
  after: Timing;
}

export interface DropMeasurement {
  /** The statements whose plan on the copy read the index, timed with and without it. */
  effects: DropEffect[];
  /** Statements on the table not timed, and why (another role's, no values, a plan that does not read the index). */
  notMeasured: Array<{ queryId: string; query: string; reason: string }>;
}

/** Whether the statement names the table (any schema when it names none). */
async function reads(statement: RecordedStatement, { schema, table }: IndexToDrop): Promise<boolean> {
  try {
    const { relations } = await statementShape(plannableText(statement.query));
    return relations.some((r) => r.name === table && (r.schema === null || r.schema === schema));
  } catch {
    return false;
  }
}

/** A statement's Runnable, found once for all the drops measured in one transaction (the copy is the same for each). */
export type RunnableOf = (statement: RecordedStatement) => Promise<Runnable>;

/** `runnable` in `tx`, each statement's answer kept for the transaction's next calls. */
export function runnableOnce(tx: Transaction, options: MeasureOptions = {}): RunnableOf {
  const known = new Map<string, Promise<Runnable>>();
  return (statement) => {
    let found = known.get(statement.queryId);
    if (!found) {
      found = runnable(tx, statement, options);
      known.set(statement.queryId, found);
    }
    return found;
  };
}

/**
 * The statements that read the index's table, timed on the copy with it and without it; the
 * drop rolled back after. `runnableOf` answers for a statement (runnableOnce: once per transaction).
 */
export async function measuredDrop(
  tx: Transaction,
  index: IndexToDrop,
  statements: readonly RecordedStatement[],
  runnableOf: RunnableOf,
  options: MeasureOptions = {},
): Promise<DropMeasurement> {
  const timed: Array<{ statement: RecordedStatement; sets: ValueSet[]; before: Timing }> = [];
  const notMeasured: DropMeasurement["notMeasured"] = [];
  for (const statement of statements) {
    if (!(await reads(statement, index))) continue;
    const values = await runnableOf(statement);
    const reason = !values.sets
      ? values.reason
      : !(await readsIndex(tx, statement.query, values.sets, index.index))
        ? NOT_READ
        : values.writes
          ? notRunWriting(values.writes)
          : undefined;
    if (!values.sets || reason) {
      notMeasured.push({ queryId: statement.queryId, query: statement.shownQuery, reason: reason ?? "" });
      continue;
    }
    timed.push({ statement, sets: values.sets, before: await statementTiming(tx, statement.query, values.sets, options) });
  }
  if (!timed.length) return { effects: [], notMeasured };
  const effects = await rolledBack(tx, async (sp) => {
    await sp`drop index ${sp(index.schema)}.${sp(index.index)}`;
    const found: DropEffect[] = [];
    for (const { statement, sets, before } of timed) {
      found.push({ queryId: statement.queryId, query: statement.shownQuery, before, after: await statementTiming(tx, statement.query, sets, options) });
    }
    return found;
  });
  return { effects, notMeasured };
}

/** What tells one database from another across URLs: the server's start, the database's oid and name. */
export async function databaseIdentity(sql: Sql): Promise<{ key: string; name: string }> {
  const [row] = await sql<{ key: string; name: string }[]>`
    select concat_ws('/', pg_postmaster_start_time()::text, d.oid::text, d.datname) as key, d.datname as name
    from pg_database d
    where d.datname = current_database()`;
  if (!row) throw new Error("the server did not say which database this is");
  return row;
}

/** Whether the copy has the index: a copy restored from an older backup may not. */
export async function indexExists(tx: Transaction, { schema, index }: Pick<IndexToDrop, "schema" | "index">): Promise<boolean> {
  const [row] = await tx<{ found: boolean }[]>`
    select exists (
      select 1 from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = ${schema} and c.relname = ${index} and c.relkind = 'i') as found`;
  return row?.found === true;
}
