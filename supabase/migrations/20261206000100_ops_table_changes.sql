-- When the damage happened: each stats snapshot keeps, per table, the rows inserted, updated
-- and deleted since the previous one (pg_stat_user_tables' counters, differenced), so a mass
-- delete or update stands out with its 5-minute slot. Only tables that changed get a row.
create table ops.table_changes (
  snapshot_id bigint not null references ops.db_stats_snapshots (id) on delete cascade,
  schema_name text not null,
  table_name text not null,
  inserted bigint not null check (inserted >= 0),
  updated bigint not null check (updated >= 0),
  deleted bigint not null check (deleted >= 0),
  -- Live rows at the previous snapshot: what a delete's share is judged against.
  rows_before bigint not null check (rows_before >= 0),
  primary key (snapshot_id, schema_name, table_name)
);

-- The cumulative counters as the newest snapshot read them, one row per table: what the next
-- snapshot differences against.
create table ops.table_counters (
  schema_name text not null,
  table_name text not null,
  inserted_total bigint not null,
  updated_total bigint not null,
  deleted_total bigint not null,
  live_rows bigint not null,
  snapshot_id bigint not null,
  primary key (schema_name, table_name)
);
