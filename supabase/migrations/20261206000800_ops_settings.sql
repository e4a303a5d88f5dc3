-- Every server setting as the stats snapshots last saw it, and each change between two
-- snapshots: the dashboard's Tune view says what changed and when it was first seen.
create table ops.settings_seen (
  name text primary key,
  value text not null
);

create table ops.setting_changes (
  snapshot_id bigint not null references ops.db_stats_snapshots (id) on delete cascade,
  name text not null,
  before text not null,
  after text not null,
  primary key (snapshot_id, name)
);
