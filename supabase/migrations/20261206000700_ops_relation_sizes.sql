-- Each table's and index's size once an hour (with the stats snapshot of that hour), so the
-- dashboard's Space view shows every relation's growth over 7 days and its history, and how
-- soon the plan's quota is reached at that pace. Pruned with the snapshots.
create table ops.relation_sizes (
  snapshot_id bigint not null references ops.db_stats_snapshots (id) on delete cascade,
  schema_name text not null,
  relation_name text not null,
  kind text not null check (kind in ('table', 'index')),
  -- The relation alone; a table's with its indexes and TOAST.
  bytes bigint not null check (bytes >= 0),
  total_bytes bigint not null check (total_bytes >= 0),
  primary key (snapshot_id, schema_name, relation_name)
);

create index idx_relation_sizes_relation on ops.relation_sizes (schema_name, relation_name, snapshot_id);
