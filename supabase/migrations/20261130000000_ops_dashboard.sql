-- What the operations dashboard reads.

-- Each statement's work per hour and per day (UTC), kept by the stats-snapshot job as it
-- records each snapshot: a window of days is summed from a few thousand rows, not from
-- every 5-minute snapshot of every statement. Only hours and days with calls are kept.
create table ops.query_stats_hourly (
  hour timestamptz not null,
  queryid bigint not null references ops.query_texts (queryid),
  calls bigint not null check (calls >= 0),
  total_ms double precision not null check (total_ms >= 0),
  -- The figures ride in the indexes: a window's rows are read from an index alone.
  primary key (hour, queryid) include (calls, total_ms)
);
create index idx_query_stats_hourly_queryid on ops.query_stats_hourly (queryid, hour) include (calls, total_ms);

create table ops.query_stats_daily (
  day timestamptz not null,
  queryid bigint not null references ops.query_texts (queryid),
  calls bigint not null check (calls >= 0),
  total_ms double precision not null check (total_ms >= 0),
  primary key (day, queryid) include (calls, total_ms)
);
create index idx_query_stats_daily_queryid on ops.query_stats_daily (queryid, day) include (calls, total_ms);

-- One statement over time, and one window of every statement, read from an index alone
-- (by time, not by snapshot id: the dashboard asks for a window).
drop index ops.idx_query_stats_queryid;
create index idx_query_stats_queryid_taken_at on ops.query_stats (queryid, taken_at) include (calls, total_ms);
drop index ops.idx_query_stats_taken_at;
create index idx_query_stats_taken_at on ops.query_stats (taken_at) include (queryid, calls, total_ms);

-- The history recorded before the rollups existed.
insert into ops.query_stats_hourly (hour, queryid, calls, total_ms)
select date_trunc('hour', taken_at, 'UTC'), queryid, sum(calls), sum(total_ms)
from ops.query_stats
where calls > 0
group by 1, 2;

insert into ops.query_stats_daily (day, queryid, calls, total_ms)
select date_trunc('day', taken_at, 'UTC'), queryid, sum(calls), sum(total_ms)
from ops.query_stats
where calls > 0
group by 1, 2;

-- Every alert message, as it was sent (firing or resolved), when PostgreSQL answers: the
-- alerts about the database being out of reach are in the log and the webhook, and here from
-- the moment it is back.
create table ops.alert_events (
  id bigint generated always as identity primary key,
  at timestamptz not null default now(),
  key text not null,
  status text not null check (status in ('firing', 'resolved')),
  summary text not null,
  since timestamptz not null,
  delivered boolean not null,
  details jsonb not null default '{}'
);
create index idx_alert_events_at on ops.alert_events (at);
create index idx_alert_events_key_at on ops.alert_events (key, at desc);
