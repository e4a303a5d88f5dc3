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

/*
 * Bloat is estimated the way ioguix/pgsql-bloat-estimation does (the method behind supabase
 * inspect and PgHero's index bloat): from pg_stats' average column widths and null fractions,
 * the pages the rows would fill if packed to the fillfactor, against the pages the relation
 * has. A table VACUUM has cleaned but cannot shrink shows, which dead-row counts cannot. Only
 * relations ANALYZE has described (every column in pg_stats) are estimated.
 */

export interface Bloat {
  schema: string;
  table: string;
  /** Null for the table itself; the index's name for an index. */
  index: string | null;
  sizeBytes: number;
  /** What the rows would need, packed to the fillfactor. */
  expectedBytes: number;
  bloatBytes: number;
  /** bloatBytes / sizeBytes, 0 to 1. */
  bloatRatio: number;
}

export interface BloatOptions {
  /**
   * @default 0.4 for tables, 0.5 for indexes: a B-tree filled by random or descending inserts
   * settles 50 to 70 % full, which reads 0.25 to 0.45 against its fillfactor of 90.
   */
  minRatio?: number;
  /** @default 1 MiB */
  minBytes?: number;
}

/** Tables (TOAST included) with at least `minRatio` and `minBytes` of estimated bloat, most bytes first. */
export async function tableBloat(sql: Sql, { minRatio = 0.4, minBytes = 1024 * 1024 }: BloatOptions = {}): Promise<Bloat[]> {
  return sql<Bloat[]>`
    with table_columns as (
      select
        c.oid,
        n.nspname as schema,
        c.reltuples::numeric as reltuples,
        (c.relpages + coalesce(t.relpages, 0))::numeric as pages,
        coalesce(t.reltuples, 0)::numeric as toast_tuples,
        coalesce((select o.option_value::numeric from pg_options_to_table(c.reloptions) o where o.option_name = 'fillfactor'), 100) as fillfactor,
        -- the heap tuple header, with its null bitmap when a column holds nulls
        23 + case when max(coalesce(s.null_frac, 0)) > 0 then (7 + count(*)) / 8 else 0 end as header_width,
        sum(((1 - coalesce(s.null_frac, 0)) * coalesce(s.avg_width, 0))::numeric) as data_width,
        count(s.attname) = count(*) as described
      from pg_class c
      join pg_namespace n on n.oid = c.relnamespace
      join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
      left join pg_stats s on s.schemaname = n.nspname and s.tablename = c.relname and s.attname = a.attname and not s.inherited
      left join pg_class t on t.oid = c.reltoastrelid
      where c.relkind in ('r', 'm') and ${ownSchema(sql)}
      group by c.oid, n.nspname, t.relpages, t.reltuples
    ),
    estimates as (
      select
        tc.*,
        current_setting('block_size')::numeric as block_size,
        -- tuples with their 4-byte line pointer, header and data each 8-byte aligned, on pages less their
        -- 24-byte header filled to the fillfactor; a TOAST page holds about four chunks
        ceil(tc.reltuples / ((current_setting('block_size')::numeric - 24) * tc.fillfactor
          / (100 * (4 + ceil(tc.header_width / 8.0) * 8 + ceil(tc.data_width / 8) * 8))))
          + ceil(tc.toast_tuples / 4) as expected_pages
      from table_columns tc
      where tc.described and tc.reltuples >= 0 and tc.pages > 0
    )
    select
      schema,
      oid::regclass::text as table,
      null as index,
      (pages * block_size)::float8 as "sizeBytes",
      (least(expected_pages, pages) * block_size)::float8 as "expectedBytes",
      (greatest(pages - expected_pages, 0) * block_size)::float8 as "bloatBytes",
      round(greatest(pages - expected_pages, 0) / pages, 4)::float8 as "bloatRatio"
    from estimates
    where greatest(pages - expected_pages, 0) / pages >= ${minRatio}
      and greatest(pages - expected_pages, 0) * block_size >= ${minBytes}
    order by "bloatBytes" desc, schema, "table"`;
}

/** B-tree indexes with at least `minRatio` and `minBytes` of estimated bloat, most bytes first. */
export async function indexBloat(sql: Sql, { minRatio = 0.5, minBytes = 1024 * 1024 }: BloatOptions = {}): Promise<Bloat[]> {
  return sql<Bloat[]>`
    with index_columns as (
      select
        i.indexrelid,
        i.indrelid,
        n.nspname as schema,
        ci.reltuples::numeric as reltuples,
        ci.relpages::numeric as pages,
        coalesce((select o.option_value::numeric from pg_options_to_table(ci.reloptions) o where o.option_name = 'fillfactor'), 90) as fillfactor,
        -- a key on an expression (0) has its statistics under the index's own name
        case when k.attnum = 0 then ci.relname else ct.relname end as stats_relation,
        coalesce(ta.attname, ia.attname) as column_name
      from pg_index i
      join pg_class ci on ci.oid = i.indexrelid
      join pg_class ct on ct.oid = i.indrelid
      join pg_namespace n on n.oid = ci.relnamespace
      join pg_am am on am.oid = ci.relam and am.amname = 'btree'
      cross join lateral unnest(string_to_array(i.indkey::text, ' ')::int[]) with ordinality as k(attnum, position)
      left join pg_attribute ta on k.attnum <> 0 and ta.attrelid = i.indrelid and ta.attnum = k.attnum
      left join pg_attribute ia on k.attnum = 0 and ia.attrelid = i.indexrelid and ia.attnum = k.position
      where ci.relpages > 0 and ${ownSchema(sql)}
    ),
    index_widths as (
      select
        ic.indexrelid,
        ic.indrelid,
        ic.schema,
        ic.reltuples,
        ic.pages,
        ic.fillfactor,
        -- IndexTupleData, with the null bitmap when a column holds nulls
        case when max(coalesce(s.null_frac, 0)) = 0 then 8 else 12 end as header_width,
        sum(((1 - coalesce(s.null_frac, 0)) * coalesce(s.avg_width, 1024))::numeric) as data_width,
        count(s.attname) = count(*) as described
      from index_columns ic
      left join pg_stats s on s.schemaname = ic.schema and s.tablename = ic.stats_relation and s.attname = ic.column_name and not s.inherited
      group by ic.indexrelid, ic.indrelid, ic.schema, ic.reltuples, ic.pages, ic.fillfactor
    ),
    estimates as (
      select
        w.*,
        current_setting('block_size')::numeric as block_size,
        -- the metapage, then tuples with their 4-byte line pointer on pages less the 24-byte header
        -- and 16 bytes of B-tree special space, filled to the fillfactor
        1 + ceil(w.reltuples / floor((current_setting('block_size')::numeric - 24 - 16) * w.fillfactor
          / (100 * (4 + ceil(w.header_width / 8.0) * 8 + ceil(w.data_width / 8) * 8)))) as expected_pages
      from index_widths w
      where w.described and w.reltuples >= 0
    )
    select
      schema,
      indrelid::regclass::text as table,
      indexrelid::regclass::text as index,
      (pages * block_size)::float8 as "sizeBytes",
      (least(expected_pages, pages) * block_size)::float8 as "expectedBytes",
      (greatest(pages - expected_pages, 0) * block_size)::float8 as "bloatBytes",
      round(greatest(pages - expected_pages, 0) / pages, 4)::float8 as "bloatRatio"
    from estimates
    where greatest(pages - expected_pages, 0) / pages >= ${minRatio}
      and greatest(pages - expected_pages, 0) * block_size >= ${minBytes}
    order by "bloatBytes" desc, schema, "table", index`;
}
