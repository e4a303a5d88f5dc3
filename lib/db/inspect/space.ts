/** Where the disk space goes. */
import { ownSchema } from "./probe.js";
import type { Sql } from "../pool.js";

export async function databaseSizeBytes(sql: Sql): Promise<number> {
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
export async function relationSizes(sql: Sql, { limit = 50 } = {}): Promise<RelationSize[]> {
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

export interface DatabaseGrowth {
  fromAt: string;
  toAt: string;
  fromBytes: number;
  toBytes: number;
  bytesPerDay: number;
}

/**
 * Database size growth over the last `days`, from the stats snapshots (ops.db_stats_snapshots):
 * the oldest and newest snapshot in the window. Undefined with fewer than two snapshots.
 * @default 7 days
 */
export async function databaseGrowth(sql: Sql, { days = 7 } = {}): Promise<DatabaseGrowth | undefined> {
  const [row] = await sql<DatabaseGrowth[]>`
    with window_snapshots as (
      select taken_at, database_size_bytes
      from ops.db_stats_snapshots
      where taken_at >= now() - make_interval(days => ${days})
    ),
    ends as (
      select
        (select taken_at from window_snapshots order by taken_at limit 1) as from_at,
        (select database_size_bytes from window_snapshots order by taken_at limit 1) as from_bytes,
        (select taken_at from window_snapshots order by taken_at desc limit 1) as to_at,
        (select database_size_bytes from window_snapshots order by taken_at desc limit 1) as to_bytes
    )
    select
      api_timestamp(from_at) as "fromAt",
      api_timestamp(to_at) as "toAt",
      from_bytes::float8 as "fromBytes",
      to_bytes::float8 as "toBytes",
      round(((to_bytes - from_bytes) / (extract(epoch from to_at - from_at) / 86400))::numeric, 0)::float8 as "bytesPerDay"
    from ends
    where to_at > from_at`;
  return row;
}
