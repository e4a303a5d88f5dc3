-- One lifecycle for the worker's jobs (backups and drills): a drill's day is its slot, as a
-- backup's is, and a failed drill frees its slot so a redelivered cron tries again, as a failed
-- backup does (lib/data/job-runs.ts).
alter table ops.dr_drills rename column handoff_key to slot;
alter table ops.dr_drills drop constraint dr_drills_handoff_key_key;
create unique index idx_dr_drills_slot on ops.dr_drills (slot) where status <> 'failed';
