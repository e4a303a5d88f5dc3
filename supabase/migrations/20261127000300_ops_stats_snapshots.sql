-- History of the database's own statistics, written by the stats-snapshot cron.
-- ops is not exposed by Supabase's REST API (only public is, by default).
create schema if not exists ops;

-- One row per 5-minute slot: a duplicate delivery of the cron finds its slot taken.
create table ops.db_stats_snapshots (
  id bigint generated always as identity primary key,
  slot timestamptz not null unique,
  taken_at timestamptz not null default now(),
  deploy_id text,
  connections_by_state jsonb not null,
  database_size_bytes bigint not null check (database_size_bytes >= 0),
  table_cache_hit_ratio double precision,
  index_cache_hit_ratio double precision,
  blocked_sessions integer not null check (blocked_sessions >= 0),
  longest_transaction_seconds double precision not null,
  xid_age bigint not null,
  -- pg_stat_statements_info: a reset, or evictions, between two snapshots are seen here.
  statements_reset_at timestamptz,
  statements_evicted bigint
);
create index idx_db_stats_snapshots_taken_at on ops.db_stats_snapshots (taken_at);

-- Each statement's text once, however many snapshots name it.
create table ops.query_texts (
  queryid bigint primary key,
  query text not null,
  first_seen_at timestamptz not null default now()
);

-- Per statement and snapshot: the work done since the previous snapshot (never negative),
-- and the cumulative counters as read, which the next snapshot subtracts from.
create table ops.query_stats (
  snapshot_id bigint not null references ops.db_stats_snapshots (id) on delete cascade,
  queryid bigint not null references ops.query_texts (queryid),
  calls bigint not null check (calls >= 0),
  total_ms double precision not null check (total_ms >= 0),
  mean_ms double precision,
  cumulative_calls bigint not null,
  cumulative_total_ms double precision not null,
  taken_at timestamptz not null,
  primary key (snapshot_id, queryid)
);
create index idx_query_stats_queryid on ops.query_stats (queryid, snapshot_id);
create index idx_query_stats_taken_at on ops.query_stats (taken_at);
