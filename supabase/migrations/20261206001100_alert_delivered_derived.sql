-- `delivered` follows from `delivery` (sent, queued or logged): computed by the server from now
-- on, so no writer can set the two apart. Readers of the column see the same values.
alter table ops.alert_events drop column delivered;
alter table ops.alert_events add column delivered boolean generated always as (delivery in ('sent', 'queued', 'logged')) stored;
