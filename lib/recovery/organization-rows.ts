/**
 * Putting one organization's rows back from a restored copy (a scratch database) into the live
 * database: every row of the organization that the copy has and the live database lacks, by
 * primary key, over every table that holds the organization's data (directly or through a
 * parent), parents first, in one transaction. A live row is never overwritten or deleted, and
 * no other organization's row is touched; rows of tables above them (a member's user) come
 * back only where a restored row needs them and the live database lacks them.
 *
 * Which tables, and how a row belongs to the organization, is read from the live database's
 * foreign keys, so a table added later is covered without a list to keep. Rows travel by COPY
 * from the copy into a temporary table and are inserted from there (ON CONFLICT DO NOTHING).
 * COPY takes no parameters: the organization's id waits in a temporary table of the copy's
 * session, and every query is made of identifiers escaped by postgres.js.
 *
 * Nothing is recomputed after: the schema stores no figure derived from other rows (a
 * conversation's message count and last message time are read from its messages).
 */
import { pipeline } from "node:stream/promises";
import type postgres from "postgres";
import type { Pool, Sql, Transaction } from "../db/pool.js";
import { RecoveryRefusedError } from "./errors.js";

/** The platform's data, and its tenant: the table every organization's rows lead up to. */
const DATA_SCHEMA = "public";
const TENANT_TABLE = "organizations";

interface ForeignKey {
  table: string;
  column: string;
  parent: string;
  parentColumn: string;
}

interface TableShape {
  name: string;
  primaryKey: string[];
  /** Columns a row is written with: stored, not generated. */
  columns: string[];
}

/** How a table's rows are chosen: the tenant itself, the organization's rows, or rows the chosen rows of tables below refer to. */
type Scope =
  | { kind: "tenant" }
  | { kind: "organization"; column: string }
  | { kind: "through"; column: string; parent: string; parentColumn: string }
  | { kind: "referenced"; by: ForeignKey[] };

export interface RecoveredTable {
  table: string;
  scope: Scope;
  shape: TableShape;
}

async function foreignKeys(sql: Sql): Promise<ForeignKey[]> {
  return sql<ForeignKey[]>`
    select
      c.relname as table,
      a.attname as column,
      p.relname as parent,
      pa.attname as "parentColumn"
    from pg_constraint k
    join pg_class c on c.oid = k.conrelid
    join pg_namespace n on n.oid = c.relnamespace
    join pg_class p on p.oid = k.confrelid
    join pg_namespace pn on pn.oid = p.relnamespace
    join pg_attribute a on a.attrelid = k.conrelid and a.attnum = k.conkey[1]
    join pg_attribute pa on pa.attrelid = k.confrelid and pa.attnum = k.confkey[1]
    where k.contype = 'f' and cardinality(k.conkey) = 1 and n.nspname = ${DATA_SCHEMA} and pn.nspname = ${DATA_SCHEMA}
    order by c.relname, a.attnum`;
}

async function tableShapes(sql: Sql): Promise<Map<string, TableShape>> {
  const rows = await sql<TableShape[]>`
    select
      c.relname as name,
      coalesce((
        select array_agg(a.attname::text order by array_position(i.indkey::int2[], a.attnum))
        from pg_index i join pg_attribute a on a.attrelid = i.indrelid and a.attnum = any(i.indkey)
        where i.indrelid = c.oid and i.indisprimary), '{}') as "primaryKey",
      (select array_agg(a.attname::text order by a.attnum)
       from pg_attribute a
       where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped and a.attgenerated = '') as columns
    from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = ${DATA_SCHEMA} and c.relkind in ('r', 'p')`;
  return new Map(rows.map((row) => [row.name, row]));
}

/** The tables holding an organization's data, each with how its rows belong to one. */
function organizationScopes(keys: ForeignKey[]): Map<string, Scope> {
  const scopes = new Map<string, Scope>([[TENANT_TABLE, { kind: "tenant" }]]);
  for (let grew = true; grew;) {
    grew = false;
    const tables = [...new Set(keys.map((key) => key.table))].filter((table) => !scopes.has(table));
    for (const table of tables) {
      const own = keys.filter((key) => key.table === table);
      const direct = own.find((key) => key.parent === TENANT_TABLE);
      const through = own.find((key) => key.parent !== table && scopes.has(key.parent));
      if (direct) scopes.set(table, { kind: "organization", column: direct.column });
      else if (through) scopes.set(table, { kind: "through", column: through.column, parent: through.parent, parentColumn: through.parentColumn });
      else continue;
      grew = true;
    }
  }
  return scopes;
}

/**
 * The tables a recovery writes, parents first: the organization's tables (or those named, and
 * what they belong to), and the tables above them their rows refer to (each a `referenced` scope).
 */
export async function recoveredTables(sql: Sql, only: readonly string[] = []): Promise<RecoveredTable[]> {
  const keys = await foreignKeys(sql);
  const shapes = await tableShapes(sql);
  const scopes = organizationScopes(keys);
  const unknown = only.filter((table) => !scopes.has(table));
  if (unknown.length) {
    throw new RecoveryRefusedError(`${unknown.join(", ")}: not a table holding an organization's data (those are ${[...scopes.keys()].sort().join(", ")})`);
  }
  const chosen = new Map<string, Scope>(only.length ? only.map((table) => [table, scopes.get(table) as Scope]) : scopes);
  // Above every chosen row, what it refers to: the rows a restored row needs the live database to have.
  for (let grew = true; grew;) {
    grew = false;
    for (const key of keys) {
      const current = chosen.get(key.parent);
      // A parent recovered for itself already brings every row of the organization's.
      if (!chosen.has(key.table) || key.parent === key.table || (current && current.kind !== "referenced")) continue;
      const by = current?.kind === "referenced" ? current.by : [];
      if (by.some((b) => b.table === key.table && b.column === key.column)) continue;
      chosen.set(key.parent, { kind: "referenced", by: [...by, key] });
      grew = true;
    }
  }
  return parentsFirst([...chosen.keys()], keys).map((table) => {
    const shape = shapes.get(table);
    if (!shape?.primaryKey.length) throw new RecoveryRefusedError(`${DATA_SCHEMA}.${table} has no primary key: its rows cannot be told apart to put back`);
    return { table, scope: chosen.get(table) as Scope, shape };
  });
}

/** `tables` ordered so that every table comes after those it has foreign keys to. */
function parentsFirst(tables: string[], keys: ForeignKey[]): string[] {
  const ordered: string[] = [];
  const placing = new Set<string>();
  const place = (table: string) => {
    if (ordered.includes(table) || placing.has(table)) return;
    placing.add(table);
    for (const key of keys) if (key.table === table && key.parent !== table && tables.includes(key.parent)) place(key.parent);
    ordered.push(table);
  };
  for (const table of [...tables].sort()) place(table);
  return ordered;
}

/** The copy's rows of `table` that belong to the organization in `recover_org`, as a predicate (no parameters: COPY takes none). */
function predicate(sql: Sql, table: string, tables: Map<string, Scope>, all: Map<string, Scope>): postgres.Fragment {
  const scope = tables.get(table) ?? all.get(table);
  if (!scope) throw new Error(`no scope for ${table}`);
  const chosen = sql`(select id from recover_org)`;
  switch (scope.kind) {
    case "tenant":
      return sql`${sql("id")} in ${chosen}`;
    case "organization":
      return sql`${sql(scope.column)} in ${chosen}`;
    case "through":
      return sql`${sql(scope.column)} in (select ${sql(scope.parentColumn)} from ${sql(DATA_SCHEMA)}.${sql(scope.parent)} where ${predicate(sql, scope.parent, all, all)})`;
    case "referenced": {
      const [first, ...rest] = scope.by.map(
        (key) =>
          sql`${sql(key.parentColumn)} in (select ${sql(key.column)} from ${sql(DATA_SCHEMA)}.${sql(key.table)} where ${predicate(sql, key.table, tables, all)})`,
      );
      return sql`(${rest.reduce((joined, next) => sql`${joined} or ${next}`, first as postgres.Fragment)})`;
    }
  }
}

export interface TableOutcome {
  table: string;
  /** The organization's rows in the copy (for a table above: the rows the chosen rows refer to). */
  inBackup: number;
  /** Of those, already in the live database by primary key: left as they are. */
  alreadyLive: number;
  inserted: number;
  /** Neither live by primary key nor inserted: a live row holds one of its other unique keys. */
  conflicting: number;
}

/** The columns both databases have: the copy may be of an older schema than the live one. */
async function commonColumns(copy: Sql, shape: TableShape): Promise<string[]> {
  const rows = await copy<{ name: string }[]>`
    select a.attname as name
    from pg_attribute a join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = ${DATA_SCHEMA} and c.relname = ${shape.name} and a.attnum > 0 and not a.attisdropped and a.attgenerated = ''`;
  const there = new Set(rows.map((row) => row.name));
  return shape.columns.filter((column) => there.has(column));
}

/** Identity columns of `table` moved past the highest value now in it: an inserted explicit id must not come round again. */
async function identitiesPastRestored(tx: Transaction, table: string): Promise<void> {
  const sequences = await tx<{ sequence: string; column: string }[]>`
    select pg_get_serial_sequence(format('%I.%I', ${DATA_SCHEMA}::text, ${table}::text), a.attname) as sequence, a.attname as column
    from pg_attribute a join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = ${DATA_SCHEMA} and c.relname = ${table} and a.attnum > 0 and not a.attisdropped
      and pg_get_serial_sequence(format('%I.%I', ${DATA_SCHEMA}::text, ${table}::text), a.attname) is not null`;
  for (const { sequence, column } of sequences) {
    await tx`
      select setval(${sequence}::regclass, greatest(m.highest, s.last_value), true)
      from (select max(${tx(column)})::bigint as highest from ${tx(DATA_SCHEMA)}.${tx(table)}) m,
        lateral (select coalesce(last_value, 1) as last_value from pg_sequences where format('%I.%I', schemaname, sequencename)::regclass = ${sequence}::regclass) s
      where m.highest is not null`;
  }
}

/** One table: its rows from the copy into a temporary table, then the missing ones into the live table. */
async function recoverTable(
  copy: Pool,
  tx: Transaction,
  entry: RecoveredTable,
  chosen: Map<string, Scope>,
  all: Map<string, Scope>,
  index: number,
): Promise<TableOutcome> {
  const { table, shape } = entry;
  const columns = await commonColumns(copy, shape);
  const staging = `recover_rows_${index}`;
  await tx`create temp table ${tx(staging)} (like ${tx(DATA_SCHEMA)}.${tx(table)}) on commit drop`;
  const out =
    await copy`copy (select ${copy(columns)} from ${copy(DATA_SCHEMA)}.${copy(table)} where ${predicate(copy, table, chosen, all)}) to stdout`.readable();
  const into = await tx`copy ${tx(staging)} (${tx(columns)}) from stdin`.writable();
  await pipeline(out, into);
  const [counts] = await tx<{ inBackup: number; alreadyLive: number }[]>`
    select
      (select count(*)::float8 from ${tx(staging)}) as "inBackup",
      (select count(*)::float8 from ${tx(staging)} join ${tx(DATA_SCHEMA)}.${tx(table)} using (${tx(shape.primaryKey)})) as "alreadyLive"`;
  const inserted = await tx`
    insert into ${tx(DATA_SCHEMA)}.${tx(table)} (${tx(columns)}) overriding system value
    select ${tx(columns)} from ${tx(staging)}
    on conflict do nothing`;
  await identitiesPastRestored(tx, table);
  const inBackup = counts?.inBackup ?? 0;
  const alreadyLive = counts?.alreadyLive ?? 0;
  return { table, inBackup, alreadyLive, inserted: inserted.count, conflicting: inBackup - alreadyLive - inserted.count };
}

/** Rolls the transaction back once every count is known: a dry run's way out. */
class DryRunDone extends Error {
  constructor(readonly outcomes: TableOutcome[]) {
    super("dry run");
  }
}

/**
 * Puts back what the copy (a restored backup at `copy`) holds of organization `organizationId`
 * and the live database lacks, in one transaction of `live`; with `dryRun`, the same work
 * rolled back, so the counts are exact and nothing changes.
 */
export async function recoverOrganizationRows(
  live: Pool,
  copy: Pool,
  organizationId: string,
  { tables = [], dryRun = false }: { tables?: readonly string[]; dryRun?: boolean } = {},
): Promise<TableOutcome[]> {
  const [tenant] = await copy<
    { present: boolean }[]
  >`select exists (select 1 from ${copy(DATA_SCHEMA)}.${copy(TENANT_TABLE)} where id = ${organizationId}) as present`;
  if (!tenant?.present) throw new RecoveryRefusedError(`the backup has no organization ${organizationId}: nothing of it can come back from this backup`);
  const entries = await recoveredTables(live, tables);
  const all = organizationScopes(await foreignKeys(live));
  const chosen = new Map(entries.map((entry) => [entry.table, entry.scope]));
  await copy`create temp table if not exists recover_org (id uuid primary key)`;
  await copy`truncate recover_org`;
  await copy`insert into recover_org (id) values (${organizationId})`;
  try {
    return await live.begin(async (tx) => {
      const outcomes: TableOutcome[] = [];
      for (const [index, entry] of entries.entries()) outcomes.push(await recoverTable(copy, tx, entry, chosen, all, index));
      if (dryRun) throw new DryRunDone(outcomes);
      return outcomes;
    });
  } catch (error) {
    if (error instanceof DryRunDone) return error.outcomes;
    throw error;
  }
}
