/** What backups and restores read of a database: row counts, existing tables, and extensions. */
import type { Sql } from "../db/pool.js";

/** Rows of every table in the schemas, counted in one statement (identifiers quoted by the server). */
export async function tableRowCounts(sql: Sql, schemas: readonly string[]): Promise<Record<string, number>> {
  const rows = await sql<{ name: string; count: number }[]>`
    select
      format('%s.%s', n.nspname, c.relname) as name,
      (xpath('/row/c/text()', query_to_xml(format('select count(*) as c from only %I.%I', n.nspname, c.relname), false, true, '')))[1]::text::float8 as count
    from pg_class c
    join pg_namespace n on n.oid = c.relnamespace
    where c.relkind = 'r' and n.nspname in ${sql(schemas as string[])}
    order by 1`;
  return Object.fromEntries(rows.map((row) => [row.name, row.count]));
}

export interface DatabaseExtension {
  name: string;
  schema: string;
  /** Objects in the schemas depend on it: a column's type, an index's operator class, a view's function. */
  required: boolean;
}

/**
 * The database's extensions, each marked required when an object in `schemas` depends on one
 * of its members: a column's type, an index's operator class, a view's or a default's
 * function. pg_depend says so for every kind of object; an object that belongs to a relation
 * (a rule, a default, a constraint, a trigger, an index) counts in that relation's schema, and
 * not at all when that relation is itself part of an extension.
 */
export async function databaseExtensions(sql: Sql, schemas: readonly string[]): Promise<DatabaseExtension[]> {
  return sql<DatabaseExtension[]>`
    with members as (
      select d.classid, d.objid, e.extname
      from pg_depend d
      join pg_extension e on e.oid = d.refobjid
      where d.refclassid = 'pg_extension'::regclass and d.deptype = 'e'
    ),
    dependents as (
      select m.extname, d.classid, d.objid, owner.relation
      from pg_depend d
      join members m on m.classid = d.refclassid and m.objid = d.refobjid
      cross join lateral (
        select case d.classid
          when 'pg_class'::regclass then coalesce((select indrelid from pg_index where indexrelid = d.objid), d.objid)
          when 'pg_rewrite'::regclass then (select ev_class from pg_rewrite where oid = d.objid)
          when 'pg_attrdef'::regclass then (select adrelid from pg_attrdef where oid = d.objid)
          when 'pg_constraint'::regclass then (select nullif(conrelid, 0) from pg_constraint where oid = d.objid)
          when 'pg_trigger'::regclass then (select tgrelid from pg_trigger where oid = d.objid)
          when 'pg_policy'::regclass then (select polrelid from pg_policy where oid = d.objid)
        end as relation
      ) owner
      where d.deptype in ('n', 'a')
        and not exists (select 1 from members own where own.classid = d.classid and own.objid = d.objid)
        and not exists (select 1 from members own where own.classid = 'pg_class'::regclass and own.objid = owner.relation)
    ),
    placed as (
      select
        x.extname,
        coalesce(
          (select relnamespace from pg_class where oid = x.relation),
          case x.classid
            when 'pg_proc'::regclass then (select pronamespace from pg_proc where oid = x.objid)
            when 'pg_type'::regclass then (select typnamespace from pg_type where oid = x.objid)
            when 'pg_constraint'::regclass then (select connamespace from pg_constraint where oid = x.objid)
          end) as namespace
      from dependents x
    )
    select
      e.extname as name,
      n.nspname as schema,
      exists (
        select 1
        from placed p
        join pg_namespace pn on pn.oid = p.namespace
        where p.extname = e.extname and pn.nspname in ${sql(schemas as string[])}) as required
    from pg_extension e
    join pg_namespace n on n.oid = e.extnamespace
    where e.extname <> 'plpgsql'
    order by e.extname`;
}

/**
 * Up to five objects already in the schemas that a restore would collide with: tables, views,
 * materialized views, sequences, foreign tables, functions and types (a restore's target must
 * have none). An extension's own objects (pg_stat_statements' views in public) are not counted.
 */
export async function existingObjects(sql: Sql, schemas: readonly string[]): Promise<string[]> {
  const rows = await sql<{ name: string }[]>`
    with objects as (
      select 'pg_class'::regclass as catalog, c.oid, format('%s %s.%s', case c.relkind
          when 'v' then 'view' when 'm' then 'materialized view' when 'S' then 'sequence' when 'f' then 'foreign table' else 'table' end,
          n.nspname, c.relname) as name
      from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where c.relkind in ('r', 'p', 'v', 'm', 'S', 'f') and n.nspname in ${sql(schemas as string[])}
      union all
      select 'pg_proc'::regclass, p.oid, format('function %s.%s', n.nspname, p.proname)
      from pg_proc p join pg_namespace n on n.oid = p.pronamespace
      where n.nspname in ${sql(schemas as string[])}
      union all
      select 'pg_type'::regclass, t.oid, format('type %s.%s', n.nspname, t.typname)
      from pg_type t join pg_namespace n on n.oid = t.typnamespace
      where n.nspname in ${sql(schemas as string[])} and t.typtype in ('c', 'd', 'e', 'r', 'm')
        and (t.typrelid = 0 or (select c.relkind from pg_class c where c.oid = t.typrelid) = 'c')
    )
    select o.name
    from objects o
    where not exists (select 1 from pg_depend d where d.classid = o.catalog and d.objid = o.oid and d.deptype = 'e')
    order by 1
    limit 5`;
  return rows.map((row) => row.name);
}

/** Which of the schemas exist already. */
export async function existingSchemas(sql: Sql, schemas: readonly string[]): Promise<string[]> {
  const rows = await sql<{ name: string }[]>`select nspname as name from pg_namespace where nspname in ${sql(schemas as string[])} order by 1`;
  return rows.map((row) => row.name);
}

/** The server's major version. */
export async function serverMajor(sql: Sql): Promise<number> {
  const [row] = await sql<{ major: number }[]>`select (current_setting('server_version_num')::int / 10000) as major`;
  return row?.major ?? 0;
}
