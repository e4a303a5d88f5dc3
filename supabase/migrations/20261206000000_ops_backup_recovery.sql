-- One backup per day's slot: every delivery of the backup cron (a Vercel Cron repeat, a
-- replayed signed POST) names the day's slot, and a slot held by a run that has not failed is
-- not run again. A failed run frees its slot, so a retry makes a new attempt.
alter table ops.backups add column slot text;
create unique index idx_backups_slot on ops.backups (slot) where status <> 'failed';

-- A copy on a disk the database can no longer see (the old worker's, after a restore into a
-- new project): not known to be gone, no longer known to be there.
alter table ops.backup_copies drop constraint backup_copies_status_check;
alter table ops.backup_copies add constraint backup_copies_status_check
  check (status in ('uploading', 'verified', 'failed', 'deleted', 'unconfirmed'));

-- What a drill restored, so its throughput projects the recovery time of today's database:
-- the restored database's size, and the ANALYZE's share of the recovery time; and the
-- scratch database it made (dropped after, unless kept: then this is where to look).
alter table ops.dr_drills
  add column restored_bytes bigint check (restored_bytes >= 0),
  add column analyze_seconds double precision check (analyze_seconds >= 0),
  add column scratch_database text;
