/**
 * Representative values for a recorded statement's parameters, so that it can be run on a
 * restored copy as the application runs it. pg_stat_statements keeps no parameter values, so
 * they are drawn from the copy's own statistics: each `$n` the statement compares with a
 * column takes values from that column's pg_stats (its most common values, then its histogram
 * bounds), at evenly spaced points of the column's distribution. A value as common as 97% of
 * the rows is then drawn about 97% of the time: a gain that only rare values would see is not
 * mistaken for the statement's. LIMIT takes a page of 50, OFFSET none.
 */
import { parseTree, walkTree } from "./parse-tree.js";
import type { Sql } from "../pool.js";

/** One run's parameter values, $1 first, as text the server casts (null for SQL NULL). */
export type ValueSet = Array<string | null>;

/** `unmapped`: the `$n` compared with no column, NULL in every set: enough to plan with, not to time. */
export type RepresentativeValues = { sets: ValueSet[]; unmapped: number[] } | { sets: null; reason: string };

/** The page LIMIT $n takes: about what a list or a page of messages asks for. */
const LIMIT_VALUE = "50";

type Source = { kind: "column"; alias: string | null; column: string; array: boolean } | { kind: "constant"; value: string };

interface Relation {
  schema: string | null;
  table: string;
}

interface Shape {
  sources: Map<number, Source>;
  /** By alias, or by name where the relation has no alias. */
  relations: Map<string, Relation>;
  parameters: number;
}

const sval = (node: unknown): string | undefined => (node as { String?: { sval?: string } } | undefined)?.String?.sval;

function paramNumber(node: unknown): number | undefined {
  const n = node as { ParamRef?: { number?: number }; TypeCast?: { arg?: unknown } } | undefined;
  if (typeof n?.ParamRef?.number === "number") return n.ParamRef.number;
  if (n?.TypeCast) return paramNumber(n.TypeCast.arg);
  return undefined;
}

function columnOf(node: unknown): { alias: string | null; column: string } | undefined {
  const n = node as { ColumnRef?: { fields?: unknown[] }; TypeCast?: { arg?: unknown } } | undefined;
  if (n?.TypeCast) return columnOf(n.TypeCast.arg);
  const parts = (n?.ColumnRef?.fields ?? []).map(sval);
  if (!parts.length || parts.some((part) => part === undefined)) return undefined;
  const column = parts.at(-1) as string;
  return { alias: parts.length > 1 ? (parts.at(-2) as string) : null, column };
}

function relationOf(fields: Record<string, unknown>): Relation & { alias: string } {
  const table = typeof fields.relname === "string" ? fields.relname : "";
  const alias = (fields.alias as { aliasname?: string } | undefined)?.aliasname ?? table;
  return { schema: typeof fields.schemaname === "string" ? fields.schemaname : null, table, alias };
}

/** Operators that compare a column with a value: `price + $1` draws nothing from price's statistics. */
const COMPARISONS = new Set(["=", "<>", "!=", "<", ">", "<=", ">=", "~~", "~~*", "!~~", "!~~*"]);

function comparison(expression: Record<string, unknown>): boolean {
  if (expression.kind !== "AEXPR_OP" && expression.kind !== "AEXPR_OP_ANY" && expression.kind !== "AEXPR_OP_ALL") {
    return ["AEXPR_IN", "AEXPR_BETWEEN", "AEXPR_NOT_BETWEEN", "AEXPR_LIKE", "AEXPR_ILIKE"].includes(String(expression.kind));
  }
  const name = Array.isArray(expression.name) ? sval(expression.name.at(-1)) : undefined;
  return name !== undefined && COMPARISONS.has(name);
}

/** Which column (or constant) each `$n` of the statement takes its value from. */
async function shapeOf(query: string): Promise<Shape> {
  const shape: Shape = { sources: new Map(), relations: new Map(), parameters: 0 };
  const compared = (side: unknown, other: unknown, array: boolean) => {
    const column = columnOf(side);
    if (!column) return;
    const items = (other as { List?: { items?: unknown[] } } | undefined)?.List?.items ?? [other];
    for (const item of items) {
      const n = paramNumber(item);
      if (n !== undefined && !shape.sources.has(n)) shape.sources.set(n, { kind: "column", ...column, array });
    }
  };
  walkTree(await parseTree(query), (kind, fields) => {
    if (kind === "RangeVar") {
      const { alias, ...relation } = relationOf(fields);
      shape.relations.set(alias, relation);
    } else if (kind === "UpdateStmt" || kind === "DeleteStmt") {
      const { alias, ...relation } = relationOf((fields.relation ?? {}) as Record<string, unknown>);
      shape.relations.set(alias, relation);
      for (const target of (fields.targetList ?? []) as Array<{ ResTarget?: { name?: string; val?: unknown } }>) {
        const n = paramNumber(target.ResTarget?.val);
        if (n !== undefined && target.ResTarget?.name) shape.sources.set(n, { kind: "column", alias, column: target.ResTarget.name, array: false });
      }
    } else if (kind === "A_Expr" && comparison(fields)) {
      const array = fields.kind === "AEXPR_OP_ANY" || fields.kind === "AEXPR_OP_ALL";
      compared(fields.lexpr, fields.rexpr, array);
      compared(fields.rexpr, fields.lexpr, array);
    } else if (kind === "SelectStmt") {
      const limit = paramNumber(fields.limitCount);
      const offset = paramNumber(fields.limitOffset);
      if (limit !== undefined) shape.sources.set(limit, { kind: "constant", value: LIMIT_VALUE });
      if (offset !== undefined) shape.sources.set(offset, { kind: "constant", value: "0" });
    } else if (kind === "ParamRef" && typeof fields.number === "number") {
      shape.parameters = Math.max(shape.parameters, fields.number);
    }
  });
  return shape;
}

interface ColumnStats {
  key: string;
  values: string[];
  freqs: number[];
  bounds: string[];
  nullFrac: number;
}

/** pg_stats of each column asked for, keyed `n`; a column of a relation the copy lacks, or without statistics, is left out. */
async function columnStats(sql: Sql, wanted: Array<{ key: string; schema: string | null; table: string; column: string }>): Promise<Map<string, ColumnStats>> {
  if (!wanted.length) return new Map();
  const rows = await sql<ColumnStats[]>`
    with wanted as (
      select e ->> 'key' as key, e ->> 'schema' as schema, e ->> 'table' as tab, e ->> 'column' as col
      from jsonb_array_elements(${sql.json(wanted)}::jsonb) e
    )
    select distinct on (w.key)
      w.key,
      -- As JSON: arrays parse only on connections that fetched the server's array types; JSON always does.
      to_json(coalesce(s.most_common_vals::text::text[], '{}')) as values,
      to_json(coalesce(s.most_common_freqs, '{}')::float8[]) as freqs,
      to_json(coalesce(s.histogram_bounds::text::text[], '{}')) as bounds,
      s.null_frac::float8 as "nullFrac"
    from wanted w
    join pg_class c on c.oid = to_regclass(case when w.schema is null then quote_ident(w.tab) else quote_ident(w.schema) || '.' || quote_ident(w.tab) end)
    join pg_namespace n on n.oid = c.relnamespace
    join pg_stats s on s.schemaname = n.nspname and s.tablename = c.relname and s.attname = w.col
    order by w.key, s.inherited`;
  return new Map(rows.map((row) => [row.key, row]));
}

/** The value at point `p` (0 to 1) of the column's distribution of non-null values: most common values by their share, histogram bounds sharing the rest. */
function valueAt(stats: ColumnStats, p: number): string | null {
  const mcvShare = stats.freqs.reduce((a, b) => a + b, 0);
  const nonNull = Math.max(1 - stats.nullFrac, Number.EPSILON);
  const rest = Math.max(nonNull - mcvShare, 0);
  const weighted = [
    ...stats.values.map((value, i) => ({ value, weight: stats.freqs[i] ?? 0 })),
    ...stats.bounds.map((value) => ({ value, weight: rest / stats.bounds.length })),
  ];
  const total = weighted.reduce((sum, entry) => sum + entry.weight, 0);
  if (!weighted.length || total <= 0) return null;
  let cumulative = 0;
  for (const entry of weighted) {
    cumulative += entry.weight / total;
    if (p < cumulative) return entry.value;
  }
  return weighted.at(-1)?.value ?? null;
}

const arrayLiteral = (value: string) => `{"${value.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"}`;

/**
 * `count` sets of values for the statement's parameters, the i-th drawn at point (i + 0.5) /
 * count of each column's distribution, NULL for a `$n` compared with no column (listed as
 * unmapped); or why none can be drawn (a column without statistics on the copy).
 * @default count 5
 */
export async function representativeValues(sql: Sql, query: string, { count = 5 } = {}): Promise<RepresentativeValues> {
  const shape = await shapeOf(query);
  const columns: Array<{ key: string; schema: string | null; table: string; column: string }> = [];
  for (let n = 1; n <= shape.parameters; n++) {
    const source = shape.sources.get(n);
    if (!source || source.kind === "constant") continue;
    const relations = source.alias === null ? [...shape.relations.values()] : [shape.relations.get(source.alias)].filter((r) => r !== undefined);
    for (const relation of relations) columns.push({ key: `${n}:${relation.schema ?? ""}.${relation.table}`, ...relation, column: source.column });
  }
  const stats = await columnStats(sql, columns);
  const statsOf = (n: number) => [...stats.values()].find((row) => row.key.startsWith(`${n}:`));
  const sets: ValueSet[] = [];
  for (let i = 0; i < count; i++) {
    const set: ValueSet = [];
    for (let n = 1; n <= shape.parameters; n++) {
      const source = shape.sources.get(n);
      if (!source) {
        set.push(null);
        continue;
      }
      if (source.kind === "constant") {
        set.push(source.value);
        continue;
      }
      const column = statsOf(n);
      const value = column ? valueAt(column, (i + 0.5) / count) : null;
      if (value === null) return { sets: null, reason: `$${n} is compared with ${source.column}, which has no statistics on the copy (ANALYZE it)` };
      set.push(source.array ? arrayLiteral(value) : value);
    }
    sets.push(set);
  }
  const unmapped = Array.from({ length: shape.parameters }, (_, i) => i + 1).filter((n) => !shape.sources.has(n));
  return { sets, unmapped };
}
