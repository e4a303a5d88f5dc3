-- Retention removes an old archive; its row stays, as the record that the backup existed.
alter table ops.backups add column deleted_at timestamptz;
