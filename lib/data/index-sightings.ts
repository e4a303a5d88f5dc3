/**
 * Since when each index's scans have been counted (ops.index_sightings), noted by every stats
 * snapshot: the moment it first saw the index, or the moment its scan count went back. The
 * statistics' own reset time (pg_stat_database.stats_reset) is null until a reset, so it alone
 * cannot tell a year of counting from a restore an hour ago.
 */
import type { Sql } from "../db/pool.js";

/** Notes the indexes seen now: new ones (or renamed, or with fewer scans than last time) start counting now. */
export async function recordIndexSightings(sql: Sql): Promise<void> {
  await sql`
    with seen as (
      select s.indexrelid as index_oid, s.schemaname::text as schema_name, s.indexrelname::text as index_name, s.idx_scan as scans
      from pg_stat_user_indexes s
    ),
    noted as (
      insert into ops.index_sightings as o (index_oid, schema_name, index_name, counted_since, scans)
      select index_oid, schema_name, index_name, now(), scans from seen
      on conflict (index_oid) do update
      set schema_name = excluded.schema_name,
        index_name = excluded.index_name,
        scans = excluded.scans,
        counted_since = case
          when o.schema_name <> excluded.schema_name or o.index_name <> excluded.index_name or excluded.scans < o.scans then now()
          else o.counted_since
        end
    )
    delete from ops.index_sightings o where not exists (select 1 from seen where seen.index_oid = o.index_oid)`;
}

/**
 * Since when each index's scans have been counted, by index oid: the later of the database's
 * last statistics reset and the snapshots' first sighting. An index no snapshot has seen yet is
 * absent (its counting time is unknown).
 */
export async function usageCountedSince(sql: Sql): Promise<Map<number, Date>> {
  const rows = await sql<{ oid: number; since: Date }[]>`
    select o.index_oid::int8::float8 as oid,
      greatest(o.counted_since, (select d.stats_reset from pg_stat_database d where d.datname = current_database())) as since
    from ops.index_sightings o`;
  return new Map(rows.map((row) => [row.oid, row.since]));
}
