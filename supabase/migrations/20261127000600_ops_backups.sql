-- Backups of this database, one row per run: the backup worker (pg_dump) moves a row from
-- requested to running to succeeded or failed. The metrics endpoint exposes the newest
-- success, which the recovery-point watchdog judges.
create table ops.backups (
  id bigint generated always as identity primary key,
  requested_at timestamptz not null default now(),
  started_at timestamptz,
  finished_at timestamptz,
  status text not null default 'requested' check (status in ('requested', 'running', 'succeeded', 'failed')),
  -- Where the dump was written, its size and its SHA-256: a success has all three.
  location text,
  size_bytes bigint check (size_bytes >= 0),
  sha256 text check (sha256 ~ '^[0-9a-f]{64}$'),
  error text,
  check (status <> 'succeeded' or (finished_at is not null and location is not null and size_bytes is not null and sha256 is not null)),
  check (status <> 'failed' or (finished_at is not null and error is not null))
);
create index idx_backups_succeeded_finished_at on ops.backups (finished_at) where status = 'succeeded';
