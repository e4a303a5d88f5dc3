/** Where the disk space goes. */
import { ownSchema, type Queryable } from "./probe.js";

export async function databaseSizeBytes(sql: Queryable): Promise<number> {
  const [row] = await sql<{ bytes: number }[]>`select pg_database_size(current_database())::float8 as bytes`;
  return row?.bytes ?? 0;
}

export interface RelationSize {
  schema: string;
  name: string;
  kind: "table" | "index";
  sizeBytes: number;
  /** Tables: with indexes and TOAST. */
  totalBytes: number;
  estimatedRows: number;
}

/** Tables and indexes outside the internal schemas, largest first. */
export async function relationSizes(sql: Queryable, { limit = 50 } = {}): Promise<RelationSize[]> {
  return sql<RelationSize[]>`
    select
      n.nspname as schema,
      c.relname as name,
      case when c.relkind in ('i', 'I') then 'index' else 'table' end as kind,
      pg_relation_size(c.oid)::float8 as "sizeBytes",
      case when c.relkind in ('i', 'I') then pg_relation_size(c.oid) else pg_total_relation_size(c.oid) end::float8 as "totalBytes",
      greatest(c.reltuples, 0)::float8 as "estimatedRows"
    from pg_class c
    join pg_namespace n on n.oid = c.relnamespace
    where c.relkind in ('r', 'p', 'm', 'i', 'I')
      and ${ownSchema(sql)}
    order by "totalBytes" desc, schema, name
    limit ${limit}`;
}
