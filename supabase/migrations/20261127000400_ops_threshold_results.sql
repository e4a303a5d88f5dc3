-- Each snapshot's judgement of the Target Metrics table: value, status and the levels used.
create table ops.threshold_results (
  snapshot_id bigint not null references ops.db_stats_snapshots (id) on delete cascade,
  metric text not null,
  value double precision not null,
  status text not null check (status in ('ok', 'warn', 'alert')),
  target double precision not null,
  alert_level double precision not null,
  primary key (snapshot_id, metric)
);
