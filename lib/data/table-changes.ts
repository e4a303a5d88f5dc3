/**
 * Rows inserted, updated and deleted per table between stats snapshots: pg_stat_user_tables'
 * cumulative counters, differenced against what the previous snapshot read (ops.table_counters),
 * kept where a table changed (ops.table_changes). The platform's own history (ops) is left out:
 * its pruning deletes by design. A table's rows before an interval are PostgreSQL's live-row
 * estimate (n_live_tup), which inserts and deletes keep and every (auto)analyze corrects.
 */
import type { Sql } from "../db/pool.js";

export interface MassDelete {
  schema: string;
  table: string;
  deleted: number;
  /** Rows lost net of those inserted in the same interval: what shrank. */
  lost: number;
  rowsBefore: number;
}

/**
 * Records the changes since the previous snapshot under `snapshotId`, and returns the tables
 * that shrank by more than `share` of their rows (at least `minRows` of them, deletes net of
 * inserts: a queue that churns loses nothing) in that interval. A table seen for the first time
 * only sets its baseline; counters that went back (statistics reset, table recreated) count
 * from zero.
 */
export async function recordTableChanges(sql: Sql, snapshotId: string, { share, minRows }: { share: number; minRows: number }): Promise<MassDelete[]> {
  return sql<MassDelete[]>`
    with now_read as (
      select schemaname::text as schema_name, relname::text as table_name,
        n_tup_ins as inserted_total, n_tup_upd as updated_total, n_tup_del as deleted_total, n_live_tup as live_rows
      from pg_stat_user_tables
      where schemaname <> 'ops'
    ),
    differenced as (
      select
        n.schema_name,
        n.table_name,
        case when n.inserted_total < p.inserted_total then n.inserted_total else n.inserted_total - p.inserted_total end as inserted,
        case when n.updated_total < p.updated_total then n.updated_total else n.updated_total - p.updated_total end as updated,
        case when n.deleted_total < p.deleted_total then n.deleted_total else n.deleted_total - p.deleted_total end as deleted,
        p.live_rows as rows_before
      from now_read n
      join ops.table_counters p using (schema_name, table_name)
    ),
    kept as (
      insert into ops.table_changes (snapshot_id, schema_name, table_name, inserted, updated, deleted, rows_before)
      select ${snapshotId}, schema_name, table_name, inserted, updated, deleted, rows_before
      from differenced
      where inserted + updated + deleted > 0
      returning schema_name, table_name, inserted, deleted, rows_before
    ),
    counted as (
      insert into ops.table_counters (schema_name, table_name, inserted_total, updated_total, deleted_total, live_rows, snapshot_id)
      select schema_name, table_name, inserted_total, updated_total, deleted_total, live_rows, ${snapshotId} from now_read
      on conflict (schema_name, table_name) do update
      set inserted_total = excluded.inserted_total, updated_total = excluded.updated_total, deleted_total = excluded.deleted_total,
        live_rows = excluded.live_rows, snapshot_id = excluded.snapshot_id
    ),
    gone as (
      delete from ops.table_counters c
      where not exists (select 1 from now_read n where n.schema_name = c.schema_name and n.table_name = c.table_name)
    )
    select schema_name as schema, table_name as table, deleted::float8 as deleted, (deleted - inserted)::float8 as lost, rows_before::float8 as "rowsBefore"
    from kept
    where deleted - inserted >= ${minRows} and deleted - inserted > ${share}::float8 * rows_before
    order by deleted - inserted desc, schema_name, table_name`;
}

export interface TableChange {
  /** When the snapshot that closed the interval was taken. */
  takenAt: string;
  schema: string;
  table: string;
  inserted: number;
  updated: number;
  deleted: number;
  rowsBefore: number;
}

/** The changes recorded since `since`, newest first, the largest deletes first within a slot (at most `limit`). */
export async function tableChanges(sql: Sql, { since, limit = 200 }: { since: Date; limit?: number }): Promise<TableChange[]> {
  return sql<TableChange[]>`
    select
      api_timestamp(s.taken_at) as "takenAt",
      c.schema_name as schema,
      c.table_name as table,
      c.inserted::float8 as inserted,
      c.updated::float8 as updated,
      c.deleted::float8 as deleted,
      c.rows_before::float8 as "rowsBefore"
    from ops.table_changes c
    join ops.db_stats_snapshots s on s.id = c.snapshot_id
    where s.taken_at >= ${since}
    order by s.taken_at desc, c.deleted desc, c.schema_name, c.table_name
    limit ${limit}`;
}

export interface LostShare {
  schema: string;
  table: string;
  /** The share of its rows the table lost, net of inserts, in the newest snapshot's interval. */
  share: number;
}

/** Each table that shrank in the newest snapshot's interval, with the share of its rows it lost. */
export async function newestLostShares(sql: Sql): Promise<LostShare[]> {
  return sql<LostShare[]>`
    select c.schema_name as schema, c.table_name as table, least(1, (c.deleted - c.inserted)::float8 / greatest(c.rows_before, 1)) as share
    from ops.table_changes c
    where c.snapshot_id = (select max(id) from ops.db_stats_snapshots) and c.deleted > c.inserted
    order by 1, 2`;
}

export interface ChangeSeries {
  /** Unix seconds of each snapshot in the window. */
  t: number[];
  inserted: number[];
  updated: number[];
  deleted: number[];
}

/** Rows inserted, updated and deleted in every table, summed per snapshot since `since` (0 where nothing changed). */
export async function changeSeries(sql: Sql, since: Date): Promise<ChangeSeries> {
  const [row] = await sql<ChangeSeries[]>`
    select
      coalesce(json_agg(t order by t), '[]') as t,
      coalesce(json_agg(inserted order by t), '[]') as inserted,
      coalesce(json_agg(updated order by t), '[]') as updated,
      coalesce(json_agg(deleted order by t), '[]') as deleted
    from (
      select
        extract(epoch from s.taken_at)::float8 as t,
        coalesce(sum(c.inserted), 0)::float8 as inserted,
        coalesce(sum(c.updated), 0)::float8 as updated,
        coalesce(sum(c.deleted), 0)::float8 as deleted
      from ops.db_stats_snapshots s
      left join ops.table_changes c on c.snapshot_id = s.id
      where s.taken_at >= ${since}
      group by s.id, s.taken_at
    ) per_snapshot`;
  return row ?? { t: [], inserted: [], updated: [], deleted: [] };
}

/** The intervals since `since` in which a table shrank the most (deletes net of inserts), largest first. */
export async function largestLosses(sql: Sql, since: Date, limit = 10): Promise<TableChange[]> {
  return sql<TableChange[]>`
    select
      api_timestamp(s.taken_at) as "takenAt",
      c.schema_name as schema,
      c.table_name as table,
      c.inserted::float8 as inserted,
      c.updated::float8 as updated,
      c.deleted::float8 as deleted,
      c.rows_before::float8 as "rowsBefore"
    from ops.table_changes c
    join ops.db_stats_snapshots s on s.id = c.snapshot_id
    where s.taken_at >= ${since} and c.deleted > c.inserted
    order by c.deleted - c.inserted desc, s.taken_at desc
    limit ${limit}`;
}
