-- Every place a backup's archive was written, with its state: the worker's disk (file://...)
-- and the bucket (s3://...). A run succeeds only once every copy it made is verified: the
-- bucket's copy read back with the same size and SHA-256 as the archive written.
create table ops.backup_copies (
  backup_id bigint not null references ops.backups (id) on delete cascade,
  location text not null,
  status text not null check (status in ('uploading', 'verified', 'failed', 'deleted')),
  size_bytes bigint check (size_bytes >= 0),
  sha256 text check (sha256 ~ '^[0-9a-f]{64}$'),
  error text,
  created_at timestamptz not null default now(),
  verified_at timestamptz,
  deleted_at timestamptz,
  primary key (backup_id, location),
  check (status <> 'verified' or (size_bytes is not null and sha256 is not null and verified_at is not null)),
  check (status <> 'failed' or error is not null)
);

-- Whether the archive was encrypted (age) and its manifest signed (BACKUP_SIGNING_KEY).
alter table ops.backups
  add column encrypted boolean,
  add column signed boolean;

-- A drill handed to the worker waits as requested, like a backup, so that QStash giving up on
-- its delivery can mark it failed; handoff_key makes the weekly cron request one per day.
-- source: where the restored archive was read (file://... or s3://...).
alter table ops.dr_drills drop constraint dr_drills_status_check;
alter table ops.dr_drills
  add constraint dr_drills_status_check check (status in ('requested', 'running', 'succeeded', 'failed')),
  add column handoff_key text unique,
  add column source text;
