-- How each alert message reached (or did not reach) ALERT_WEBHOOK_URL:
--   sent         the webhook answered 2xx
--   queued       QStash took it, and retries it with backoff until the webhook answers
--   logged       no webhook is set: the log line is the message
--   retrying     not delivered yet: the next scheduled run (the snapshot, the watchdog) sends it again
--   undelivered  given up: QStash's failure callback, a day of retries, or a newer message about it
-- `delivered` stays, true for the first three, for readers of the column.
alter table ops.alert_events
  add column delivery text,
  add column delivery_reason text,
  add column qstash_message_id text,
  add column attempts integer not null default 1;

update ops.alert_events set delivery = case when delivered then 'sent' else 'undelivered' end;

alter table ops.alert_events
  alter column delivery set not null,
  add constraint alert_events_delivery_check check (delivery in ('sent', 'queued', 'logged', 'retrying', 'undelivered'));

-- The messages the next run sends again.
create index idx_alert_events_retrying on ops.alert_events (at) where delivery = 'retrying';
create index idx_alert_events_qstash_message on ops.alert_events (qstash_message_id) where qstash_message_id is not null;
