/**
 * Every table's and index's size over time (ops.relation_sizes, one sample an hour taken with
 * the stats snapshot): each relation's growth over the last days, and its history.
 */
import { ownSchema } from "../db/inspect/probe.js";
import type postgres from "postgres";
import type { Sql, Transaction } from "../db/pool.js";
import type { RelationSize } from "../db/inspect/space.js";
import type { Series } from "./history.js";

/** Samples at most this often: an hour's growth is what the Space view reads. */
const SAMPLE_EVERY_MINUTES = 55;

const LOCK_NOT_AVAILABLE = "55P03";

/** The relation (pg_class as c) has no exclusive lock granted or waiting: a share lock on it would not wait. */
function notExclusivelyLocked(sql: Sql): postgres.PendingQuery<postgres.Row[]> {
  return sql`not exists (select 1 from pg_locks l where l.locktype = 'relation' and l.relation = c.oid and l.mode = 'AccessExclusiveLock')`;
}

/** Records every relation's size under `snapshotId`, unless a sample of the last hour exists; true when it recorded. */
export async function recordRelationSizes(sql: Transaction, snapshotId: string): Promise<boolean> {
  const [recent] = await sql<{ sampled: boolean }[]>`
    with this as (select slot from ops.db_stats_snapshots where id = ${snapshotId})
    select exists (
      select 1
      from ops.db_stats_snapshots s
      join ops.relation_sizes r on r.snapshot_id = s.id
      where s.slot > (select slot from this) - make_interval(mins => ${SAMPLE_EVERY_MINUTES}) and s.slot <= (select slot from this)
    ) as sampled`;
  if (recent?.sampled) return false;
  const [lock] = await sql<{ timeout: string }[]>`select current_setting('lock_timeout') as timeout`;
  const previousLockTimeout = lock?.timeout ?? "0";
  // pg_relation_size takes a share lock: behind a migration's exclusive lock it would wait, and
  // the whole snapshot with it. Relations so locked are left out, and any lock still met gives up
  // this hour's sample (the next snapshot tries again) rather than wait.
  try {
    await sql.savepoint(async (sp) => {
      await sp`select set_config('lock_timeout', '200ms', true)`;
      await sp`
        insert into ops.relation_sizes (snapshot_id, schema_name, relation_name, kind, bytes, total_bytes)
        select ${snapshotId}, n.nspname, c.relname,
          case when c.relkind in ('i', 'I') then 'index' else 'table' end,
          pg_relation_size(c.oid),
          case when c.relkind in ('i', 'I') then pg_relation_size(c.oid) else pg_total_relation_size(c.oid) end
        from pg_class c
        join pg_namespace n on n.oid = c.relnamespace
        where c.relkind in ('r', 'p', 'm', 'i', 'I') and ${ownSchema(sql)} and ${notExclusivelyLocked(sp)}`;
      await sp`select set_config('lock_timeout', ${previousLockTimeout}, true)`;
    });
  } catch (error) {
    if ((error as { code?: string }).code !== LOCK_NOT_AVAILABLE) throw error;
    return false;
  }
  return true;
}

/** A table or index now (as lib/db/inspect/space.ts sizes it), with its growth. */
export interface RelationGrowth extends RelationSize {
  /** The oldest sample within the days asked for, and its time; null before any sample. */
  totalBytesBefore: number | null;
  since: string | null;
  /** Growth of totalBytes per day between that sample and now; null without one (or under an hour apart). */
  bytesPerDay: number | null;
}

/** Every table and index (or the one named) now with its growth per day since the oldest sample of the last `days`, largest first. */
export async function relationGrowth(
  sql: Sql,
  { days = 7, limit = 500, only }: { days?: number; limit?: number; only?: { schema: string; name: string } } = {},
): Promise<RelationGrowth[]> {
  return sql<RelationGrowth[]>`
    with now_sized as (
      select n.nspname::text as schema, c.relname::text as name,
        case when c.relkind in ('i', 'I') then 'index' else 'table' end as kind,
        pg_relation_size(c.oid)::float8 as size_bytes,
        (case when c.relkind in ('i', 'I') then pg_relation_size(c.oid) else pg_total_relation_size(c.oid) end)::float8 as total_bytes,
        greatest(c.reltuples, 0)::float8 as estimated_rows
      from pg_class c
      join pg_namespace n on n.oid = c.relnamespace
      where c.relkind in ('r', 'p', 'm', 'i', 'I') and ${ownSchema(sql)} and ${notExclusivelyLocked(sql)}
        and (${only?.schema ?? null}::text is null or (n.nspname = ${only?.schema ?? null}::text and c.relname = ${only?.name ?? null}::text))
    ),
    first_sample as (
      select distinct on (r.schema_name, r.relation_name) r.schema_name, r.relation_name, r.total_bytes, s.taken_at
      from ops.relation_sizes r
      join ops.db_stats_snapshots s on s.id = r.snapshot_id
      where s.taken_at >= now() - make_interval(days => ${days})
      order by r.schema_name, r.relation_name, s.taken_at
    )
    select
      z.schema, z.name, z.kind,
      z.size_bytes as "sizeBytes",
      z.total_bytes as "totalBytes",
      z.estimated_rows as "estimatedRows",
      f.total_bytes::float8 as "totalBytesBefore",
      api_timestamp(f.taken_at) as since,
      case when f.taken_at < now() - interval '1 hour'
        then round(((z.total_bytes - f.total_bytes) / (extract(epoch from now() - f.taken_at) / 86400))::numeric)::float8 end as "bytesPerDay"
    from now_sized z
    left join first_sample f on f.schema_name = z.schema and f.relation_name = z.name
    order by z.total_bytes desc, z.schema, z.name
    limit ${limit}`;
}

/** One relation's sizes over the last `seconds`: `bytes` and `totalBytes`, per sample. */
export async function relationSeries(sql: Sql, schema: string, name: string, seconds: number): Promise<Series> {
  const rows = await sql<{ t: number; bytes: number; totalBytes: number }[]>`
    select extract(epoch from s.taken_at)::float8 as t, r.bytes::float8 as bytes, r.total_bytes::float8 as "totalBytes"
    from ops.relation_sizes r
    join ops.db_stats_snapshots s on s.id = r.snapshot_id
    where r.schema_name = ${schema} and r.relation_name = ${name} and s.taken_at >= now() - make_interval(secs => ${seconds})
    order by s.taken_at`;
  return { t: rows.map((r) => r.t), values: { bytes: rows.map((r) => r.bytes), totalBytes: rows.map((r) => r.totalBytes) } };
}
