-- Index advice measured on a restored copy (the drill's scratch database, or any copy
-- `npm run db:advise -- --on <url>` is pointed at): each suggested index and each proposed
-- drop, the statements timed before and after on the copy, and the verdict. A run's rows share
-- its run_id; the newest run is the advice the dashboard shows as measured.
create table ops.measured_advice (
  id bigint generated always as identity primary key,
  run_id uuid not null,
  measured_at timestamptz not null default now(),
  drill_id text,
  -- when the copy's data was taken (the backup's time), where known
  copy_taken_at timestamptz,
  kind text not null check (kind in ('create', 'drop')),
  table_name text not null,
  index_name text not null,
  columns jsonb not null default '[]',
  -- the statement to run on production when suggested (CREATE INDEX CONCURRENTLY / DROP INDEX CONCURRENTLY)
  statement text not null,
  verdict text not null check (verdict in ('suggested', 'not suggested', 'withheld', 'not measured')),
  reason text not null,
  queryid bigint,
  query text,
  predicted_cost_before float8,
  predicted_cost_after float8,
  ms_before float8,
  ms_after float8,
  buffers_before float8,
  buffers_after float8,
  build_seconds float8,
  size_bytes float8,
  -- a drop's statements: [{queryId, query, msBefore, msAfter, buffersBefore, buffersAfter, slower}]
  effects jsonb not null default '[]'
);

create index idx_measured_advice_run on ops.measured_advice (measured_at desc, run_id);
create index idx_measured_advice_queryid on ops.measured_advice (queryid, measured_at desc) where queryid is not null;
