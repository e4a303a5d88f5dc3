/** The alert messages sent, as the dashboard shows them: firing now, and the history, with how each was delivered. */
import type { Sql } from "../db/pool.js";

/** How a message reached ALERT_WEBHOOK_URL (supabase/migrations/20261206001000_alert_delivery.sql says each). */
export type DeliveryState = "sent" | "queued" | "logged" | "retrying" | "undelivered";

export interface AlertEvent {
  at: string;
  key: string;
  status: "firing" | "resolved";
  summary: string;
  since: string;
  /** Whether it reached the webhook, QStash or (with no webhook) the log: delivery is sent, queued or logged. */
  delivered: boolean;
  delivery: DeliveryState;
  /** Why it is not delivered (yet): the webhook's or QStash's last answer. */
  deliveryReason: string | null;
}

export interface AlertEventInput {
  key: string;
  status: "firing" | "resolved";
  summary: string;
  since: string;
  at: string;
  details: Record<string, unknown>;
}

/** What became of one delivery: its state, why when not delivered, QStash's message id, how many attempts it took. */
export interface DeliveryRecord {
  state: DeliveryState;
  reason?: string | undefined;
  messageId?: string | undefined;
  attempts: number;
}

/** A message the next run sends again. */
export interface PendingAlertEvent extends AlertEventInput {
  id: string;
  attempts: number;
}

export async function recordAlertEvent(sql: Sql, event: AlertEventInput, delivery: DeliveryRecord): Promise<void> {
  await sql`
    insert into ops.alert_events (at, key, status, summary, since, details, delivery, delivery_reason, qstash_message_id, attempts)
    values (${event.at}::text::timestamptz, ${event.key}, ${event.status}, ${event.summary}, ${event.since}::text::timestamptz,
      ${sql.json(JSON.parse(JSON.stringify(event.details)) as Record<string, never>)}, ${delivery.state}, ${delivery.reason ?? null}, ${delivery.messageId ?? null},
      ${delivery.attempts})`;
}

/** Alerts whose newest message says firing, newest first. */
export async function firingAlerts(sql: Sql): Promise<AlertEvent[]> {
  return sql<AlertEvent[]>`
    select api_timestamp(at) as at, key, status, summary, api_timestamp(since) as since, delivered, delivery, delivery_reason as "deliveryReason"
    from (
      select distinct on (key) *
      from ops.alert_events
      order by key, at desc, id desc
    ) newest
    where status = 'firing'
    order by newest.at desc`;
}

/** The messages of the last `hours`, newest first, at most `limit`. */
export async function alertHistory(sql: Sql, { hours, limit = 100 }: { hours: number; limit?: number }): Promise<AlertEvent[]> {
  return sql<AlertEvent[]>`
    select api_timestamp(at) as at, key, status, summary, api_timestamp(since) as since, delivered, delivery, delivery_reason as "deliveryReason"
    from ops.alert_events
    where at >= now() - make_interval(hours => ${hours})
    order by at desc, id desc
    limit ${limit}`;
}

/**
 * The messages still to send again, oldest first, at most `limit`: each the newest message of
 * its alert (an older one a newer message replaced is not sent), made before `before`.
 */
export async function pendingAlertEvents(sql: Sql, { before, limit }: { before: Date; limit: number }): Promise<PendingAlertEvent[]> {
  return sql<PendingAlertEvent[]>`
    select e.id::text as id, e.key, e.status, e.summary, api_timestamp(e.since) as since, api_timestamp(e.at) as at, e.details, e.attempts
    from ops.alert_events e
    where e.delivery = 'retrying' and e.at < ${before}
      and not exists (select 1 from ops.alert_events newer where newer.key = e.key and (newer.at, newer.id) > (e.at, e.id))
    order by e.at, e.id
    limit ${limit}`;
}

/** The delivery of message `id` as it now stands. */
export async function setAlertDelivery(sql: Sql, id: string, delivery: DeliveryRecord): Promise<void> {
  await sql`
    update ops.alert_events
    set delivery = ${delivery.state}, delivery_reason = ${delivery.reason ?? null},
      qstash_message_id = coalesce(${delivery.messageId ?? null}, qstash_message_id), attempts = ${delivery.attempts}
    where id = ${id}`;
}

/** Messages still retrying that are older than `hours`, or that a newer message about the same alert replaced: given up. Returns how many. */
export async function abandonStaleAlertEvents(sql: Sql, hours: number): Promise<number> {
  const abandoned = await sql`
    update ops.alert_events e
    set delivery = 'undelivered',
      delivery_reason = case
        when e.at < now() - make_interval(hours => ${hours}) then coalesce(e.delivery_reason || '; ', '') || ${`given up after ${hours} h of retries`}
        else coalesce(e.delivery_reason || '; ', '') || 'not sent again: a newer message about this alert replaced it'
      end
    where e.delivery = 'retrying'
      and (e.at < now() - make_interval(hours => ${hours})
        or exists (select 1 from ops.alert_events newer where newer.key = e.key and (newer.at, newer.id) > (e.at, e.id)))`;
  return abandoned.count;
}

/** The message QStash published as `messageId` (else the newest queued one of that alert, status and start time), marked undelivered: whether one was found. */
export async function markAlertUndelivered(
  sql: Sql,
  { messageId, key, status, since }: { messageId: string | undefined; key: string; status: string; since: string },
  reason: string,
): Promise<boolean> {
  const marked = await sql`
    update ops.alert_events
    set delivery = 'undelivered', delivery_reason = ${reason}
    where id = (
      select id from ops.alert_events
      where qstash_message_id = ${messageId ?? null}
        or (key = ${key} and status = ${status} and since = ${since}::text::timestamptz and delivery = 'queued')
      order by qstash_message_id = ${messageId ?? null} desc nulls last, at desc, id desc
      limit 1
    )`;
  return marked.count > 0;
}

/** Deletes up to `batch` messages older than `days` days; returns how many it deleted. */
export async function pruneAlertEvents(sql: Sql, days: number, batch: number): Promise<number> {
  const deleted = await sql`
    delete from ops.alert_events
    where id in (select id from ops.alert_events where at < now() - make_interval(days => ${days}) order by id limit ${batch})`;
  return deleted.count;
}
