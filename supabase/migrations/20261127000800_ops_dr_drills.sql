-- Disaster-recovery drills: each restores a backup into a scratch database, checks it, and
-- records how long recovery took (the measured recovery time) and how old the data was.
create table ops.dr_drills (
  id bigint generated always as identity primary key,
  started_at timestamptz not null default now(),
  finished_at timestamptz,
  status text not null default 'running' check (status in ('running', 'succeeded', 'failed')),
  backup_id bigint references ops.backups (id) on delete set null,
  -- From the start of the drill to a restored database that passed its checks.
  recovery_seconds double precision check (recovery_seconds >= 0),
  -- How old the backup's data was when the drill began: the recovery point, measured.
  data_age_seconds double precision check (data_age_seconds >= 0),
  tables integer,
  row_count bigint,
  error text,
  check (status <> 'succeeded' or (finished_at is not null and recovery_seconds is not null)),
  check (status <> 'failed' or (finished_at is not null and error is not null))
);
create index idx_dr_drills_finished_at on ops.dr_drills (finished_at) where status = 'succeeded';
create index idx_dr_drills_backup_id on ops.dr_drills (backup_id);
