/** Indexes that cost more than they give, and the ones that are missing. */
import { ownSchema } from "./probe.js";
import type { Sql } from "../pool.js";

export interface IndexUsage {
  /** The index's oid: what ties it to its usage history (ops.index_sightings). */
  oid: number;
  schema: string;
  table: string;
  index: string;
  scans: number;
  sizeBytes: number;
  definition: string;
}

/**
 * Indexes scanned at most `maxScans` times since the statistics were reset, at least
 * `minSizeBytes` large, enforcing nothing (a unique index or one backing an exclusion
 * constraint does its work unread).
 * @default 50 scans, 1 MiB
 */
export async function unusedIndexes(sql: Sql, { maxScans = 50, minSizeBytes = 1024 * 1024 } = {}): Promise<IndexUsage[]> {
  return sql<IndexUsage[]>`
    select
      s.indexrelid::int8::float8 as oid,
      s.schemaname as schema,
      s.relname as table,
      s.indexrelname as index,
      s.idx_scan::float8 as scans,
      pg_relation_size(s.indexrelid)::float8 as "sizeBytes",
      pg_get_indexdef(s.indexrelid) as definition
    from pg_stat_user_indexes s
    join pg_index i on i.indexrelid = s.indexrelid
    where not i.indisunique
      and not exists (select 1 from pg_constraint k where k.conindid = s.indexrelid)
      and s.idx_scan <= ${maxScans}
      and pg_relation_size(s.indexrelid) >= ${minSizeBytes}
      and ${ownSchema(sql, "s.schemaname")}
    order by "sizeBytes" desc, schema, "table", index`;
}

export interface RedundantIndex {
  oid: number;
  schema: string;
  table: string;
  /** The index to drop. */
  index: string;
  /** The index to keep: it serves every lookup the dropped one serves. */
  coveredBy: string;
  keeperOid: number;
  sizeBytes: number;
  definition: string;
  coveringDefinition: string;
}

/**
 * Indexes to drop because another valid index on the same table, with the same method,
 * operator classes, collations, sort options, expressions and predicate, serves every lookup
 * they serve:
 * - an index whose key columns lead another index's longer key, or equal it while the other
 *   carries more INCLUDE columns, unless it enforces something the other does not (unique,
 *   or backing a constraint);
 * - of two identical indexes, only one: the one kept is the one backing a constraint, else
 *   the unique one, else the older (created first, so the lower oid).
 * Each index to drop is listed once, with the largest index to keep that covers it.
 */
export async function redundantIndexes(sql: Sql): Promise<RedundantIndex[]> {
  return sql<RedundantIndex[]>`
    with idx as (
      -- int2vector and oidvector cast to 0-based arrays; through text they become ordinary 1-based ones.
      select
        i.indexrelid,
        i.indrelid,
        i.indisunique,
        exists (select 1 from pg_constraint k where k.conindid = i.indexrelid and k.conrelid = i.indrelid and k.contype in ('p', 'u', 'x')) as backs_constraint,
        (string_to_array(i.indkey::text, ' ')::int[])[1:i.indnkeyatts] as keys,
        (string_to_array(i.indkey::text, ' ')::int[])[i.indnkeyatts + 1:] as included,
        string_to_array(i.indkey::text, ' ')::int[] as columns,
        string_to_array(i.indclass::text, ' ')::oid[] as classes,
        string_to_array(i.indcollation::text, ' ')::oid[] as collations,
        string_to_array(i.indoption::text, ' ')::int[] as options,
        coalesce(pg_get_expr(i.indpred, i.indrelid), '') as predicate,
        coalesce(pg_get_expr(i.indexprs, i.indrelid), '') as expressions,
        c.relam as method,
        n.nspname
      from pg_index i
      join pg_class c on c.oid = i.indexrelid
      join pg_namespace n on n.oid = c.relnamespace
      where i.indisvalid and ${ownSchema(sql)}
    ),
    pairs as (
      select
        a.*,
        b.indexrelid as keeper,
        cardinality(b.columns) as keeper_columns,
        -- how strongly the keeper deserves its place: constraint, then unique, then age
        row(not b.backs_constraint, not b.indisunique, b.indexrelid) as keeper_rank
      from idx a
      join idx b
        on a.indrelid = b.indrelid
        and a.indexrelid <> b.indexrelid
        and a.method = b.method
        and a.predicate = b.predicate
        and a.expressions = b.expressions
      where cardinality(a.keys) <= cardinality(b.keys)
        and a.keys = b.keys[1:cardinality(a.keys)]
        and a.classes = b.classes[1:cardinality(a.keys)]
        and a.collations = b.collations[1:cardinality(a.keys)]
        and a.options = b.options[1:cardinality(a.keys)]
        and a.included <@ b.columns
        and case
          -- a shorter key: uniqueness on fewer columns is a different promise
          when cardinality(a.keys) < cardinality(b.keys) then not a.indisunique and not a.backs_constraint
          -- the same key: b must enforce whatever a does
          when not (b.indisunique or not a.indisunique) or not (b.backs_constraint or not a.backs_constraint) then false
          -- b carries more columns along
          when cardinality(a.columns) < cardinality(b.columns) then true
          -- identical: drop a only when b ranks ahead of it
          else row(not b.backs_constraint, not b.indisunique, b.indexrelid) < row(not a.backs_constraint, not a.indisunique, a.indexrelid)
        end
    )
    select distinct on (indexrelid)
      indexrelid::int8::float8 as oid,
      nspname as schema,
      indrelid::regclass::text as table,
      indexrelid::regclass::text as index,
      keeper::regclass::text as "coveredBy",
      keeper::int8::float8 as "keeperOid",
      pg_relation_size(indexrelid)::float8 as "sizeBytes",
      pg_get_indexdef(indexrelid) as definition,
      pg_get_indexdef(keeper) as "coveringDefinition"
    from pairs
    -- an index to drop is never the keeper named for another
    where not exists (select 1 from pairs p where p.indexrelid = pairs.keeper)
    order by indexrelid, keeper_columns desc, keeper_rank`;
}

export interface InvalidIndex {
  schema: string;
  table: string;
  index: string;
  definition: string;
}

/** Indexes left invalid, typically by a failed CREATE INDEX CONCURRENTLY. */
export async function invalidIndexes(sql: Sql): Promise<InvalidIndex[]> {
  return sql<InvalidIndex[]>`
    select
      n.nspname as schema,
      i.indrelid::regclass::text as table,
      i.indexrelid::regclass::text as index,
      pg_get_indexdef(i.indexrelid) as definition
    from pg_index i
    join pg_class c on c.oid = i.indexrelid
    join pg_namespace n on n.oid = c.relnamespace
    where not i.indisvalid and ${ownSchema(sql)}
    order by schema, "table", index`;
}

export interface MissingForeignKeyIndex {
  schema: string;
  table: string;
  constraint: string;
  columns: string[];
  references: string;
}

/**
 * Foreign keys no index leads with: a delete or key update on the referenced table scans the
 * whole referencing table, once per row.
 */
export async function missingForeignKeyIndexes(sql: Sql): Promise<MissingForeignKeyIndex[]> {
  return sql<MissingForeignKeyIndex[]>`
    with fk as (
      select
        c.oid,
        c.conname,
        c.conrelid,
        c.confrelid,
        string_to_array(array_to_string(c.conkey, ' '), ' ')::int[] as keys,
        n.nspname
      from pg_constraint c
      join pg_class t on t.oid = c.conrelid
      join pg_namespace n on n.oid = t.relnamespace
      where c.contype = 'f' and ${ownSchema(sql)}
    )
    select
      fk.nspname as schema,
      fk.conrelid::regclass::text as table,
      fk.conname as constraint,
      to_json(array(
        select a.attname::text
        from unnest(fk.keys) with ordinality as k(attnum, position)
        join pg_attribute a on a.attrelid = fk.conrelid and a.attnum = k.attnum
        order by k.position)) as columns,
      fk.confrelid::regclass::text as references
    from fk
    where not exists (
      select 1
      from pg_index i
      where i.indrelid = fk.conrelid
        and i.indisvalid
        and i.indpred is null
        and (select array_agg(x order by x) from unnest(fk.keys) x)
          = (select array_agg(x order by x)
             from unnest((string_to_array(i.indkey::text, ' ')::int[])[1:cardinality(fk.keys)]) x))
    order by schema, "table", "constraint"`;
}

export interface SequentialScanTable {
  schema: string;
  table: string;
  sequentialScans: number;
  indexScans: number;
  estimatedRows: number;
}

/** Tables of at least `minRows` read mostly by sequential scans. @default 10,000 rows */
export async function sequentialScanTables(sql: Sql, { minRows = 10_000 } = {}): Promise<SequentialScanTable[]> {
  return sql<SequentialScanTable[]>`
    select
      s.schemaname as schema,
      s.relname as table,
      s.seq_scan::float8 as "sequentialScans",
      coalesce(s.idx_scan, 0)::float8 as "indexScans",
      s.n_live_tup::float8 as "estimatedRows"
    from pg_stat_user_tables s
    where s.n_live_tup >= ${minRows}
      and s.seq_scan > coalesce(s.idx_scan, 0)
      and ${ownSchema(sql, "s.schemaname")}
    order by "sequentialScans" desc, schema, "table"`;
}

export interface CacheHitRates {
  /** Share of table block reads served from shared buffers, 0 to 1; null before any read. */
  table: number | null;
  index: number | null;
}

export async function cacheHitRates(sql: Sql): Promise<CacheHitRates> {
  const [row] = await sql<CacheHitRates[]>`
    select
      (select round(sum(heap_blks_hit)::numeric / nullif(sum(heap_blks_hit + heap_blks_read), 0), 4)::float8
       from pg_statio_user_tables) as table,
      (select round(sum(idx_blks_hit)::numeric / nullif(sum(idx_blks_hit + idx_blks_read), 0), 4)::float8
       from pg_statio_user_indexes) as index`;
  return row ?? { table: null, index: null };
}

export interface TableCacheHit {
  schema: string;
  table: string;
  /** Blocks of the table, its indexes and its TOAST read from outside shared buffers. */
  blocksRead: number;
  blocksHit: number;
  /** Share of the table's own block reads served from shared buffers, 0 to 1; null before any read. */
  tableHitRatio: number | null;
  indexHitRatio: number | null;
  /** Table, indexes and TOAST together. */
  hitRatio: number;
}

/**
 * Tables whose block reads miss shared buffers more than `minHitRatio` allows, among those with
 * at least `minBlocks` block reads and hits: the ones that go to disk, most blocks read first.
 * @default ratio 0.99, 1000 blocks
 */
export async function tableCacheHits(sql: Sql, { minHitRatio = 0.99, minBlocks = 1000 } = {}): Promise<TableCacheHit[]> {
  return sql<TableCacheHit[]>`
    with io as (
      select
        s.schemaname,
        s.relname,
        s.heap_blks_read,
        s.heap_blks_hit,
        s.idx_blks_read,
        s.idx_blks_hit,
        (s.heap_blks_read + coalesce(s.idx_blks_read, 0) + coalesce(s.toast_blks_read, 0) + coalesce(s.tidx_blks_read, 0))::numeric as read,
        (s.heap_blks_hit + coalesce(s.idx_blks_hit, 0) + coalesce(s.toast_blks_hit, 0) + coalesce(s.tidx_blks_hit, 0))::numeric as hit
      from pg_statio_user_tables s
      where ${ownSchema(sql, "s.schemaname")}
    )
    select
      schemaname as schema,
      relname as table,
      read::float8 as "blocksRead",
      hit::float8 as "blocksHit",
      round(heap_blks_hit::numeric / nullif(heap_blks_hit + heap_blks_read, 0), 4)::float8 as "tableHitRatio",
      round(idx_blks_hit::numeric / nullif(idx_blks_hit + idx_blks_read, 0), 4)::float8 as "indexHitRatio",
      round(hit / (hit + read), 4)::float8 as "hitRatio"
    from io
    where read + hit >= greatest(${minBlocks}, 1) and hit / (hit + read) < ${minHitRatio}
    order by read desc, schema, "table"`;
}
