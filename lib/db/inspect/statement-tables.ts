/** The tables a statement reads, with their sizes and indexes: what a DBA looks at beside its plan. */
import type { Sql } from "../pool.js";

export interface StatementIndex {
  name: string;
  definition: string;
  sizeBytes: number;
  scans: number;
}

export interface StatementTable {
  /** As a regclass prints it. */
  table: string;
  kind: "table" | "partitioned table" | "materialized view" | "view" | "foreign table";
  sizeBytes: number;
  /** The table with its indexes and TOAST. */
  totalBytes: number;
  estimatedRows: number;
  indexes: StatementIndex[];
}

/** The relations named, resolved as the search path resolves them; names that resolve to nothing are left out. */
export async function statementTables(sql: Sql, relations: ReadonlyArray<{ schema: string | null; name: string }>): Promise<StatementTable[]> {
  if (!relations.length) return [];
  return sql<StatementTable[]>`
    with wanted as (
      select e ->> 'schema' as schema, e ->> 'name' as name
      from jsonb_array_elements(${sql.json(relations)}::jsonb) e
    ),
    found as (
      select distinct on (c.oid) c.oid, c.relkind
      from wanted w
      join pg_class c on c.relname = w.name
      join pg_namespace n on n.oid = c.relnamespace
      where (case when w.schema is null then n.nspname = any(current_schemas(false)) else n.nspname = w.schema end)
        and c.relkind in ('r', 'p', 'm', 'v', 'f')
      order by c.oid, array_position(current_schemas(false), n.nspname::text)
    )
    select
      f.oid::regclass::text as table,
      case f.relkind when 'r' then 'table' when 'p' then 'partitioned table' when 'm' then 'materialized view' when 'v' then 'view' else 'foreign table' end as kind,
      pg_relation_size(f.oid)::float8 as "sizeBytes",
      pg_total_relation_size(f.oid)::float8 as "totalBytes",
      greatest(c.reltuples, 0)::float8 as "estimatedRows",
      coalesce((
        select json_agg(json_build_object(
          'name', i.indexrelid::regclass::text,
          'definition', pg_get_indexdef(i.indexrelid),
          'sizeBytes', pg_relation_size(i.indexrelid)::float8,
          'scans', coalesce(s.idx_scan, 0)::float8) order by i.indexrelid::regclass::text)
        from pg_index i
        left join pg_stat_all_indexes s on s.indexrelid = i.indexrelid
        where i.indrelid = f.oid), '[]') as indexes
    from found f
    join pg_class c on c.oid = f.oid
    order by "totalBytes" desc, "table"`;
}
