/** The alert messages sent, as the dashboard shows them: firing now, and the history. */
import type { Sql } from "../db/pool.js";

export interface AlertEvent {
  at: string;
  key: string;
  status: "firing" | "resolved";
  summary: string;
  since: string;
  delivered: boolean;
}

export interface AlertEventInput {
  key: string;
  status: "firing" | "resolved";
  summary: string;
  since: string;
  at: string;
  details: Record<string, unknown>;
}

export async function recordAlertEvent(sql: Sql, event: AlertEventInput, delivered: boolean): Promise<void> {
  await sql`
    insert into ops.alert_events (at, key, status, summary, since, delivered, details)
    values (${event.at}::text::timestamptz, ${event.key}, ${event.status}, ${event.summary}, ${event.since}::text::timestamptz, ${delivered}, ${sql.json(JSON.parse(JSON.stringify(event.details)) as Record<string, never>)})`;
}

/** Alerts whose newest message says firing, newest first. */
export async function firingAlerts(sql: Sql): Promise<AlertEvent[]> {
  return sql<AlertEvent[]>`
    select api_timestamp(at) as at, key, status, summary, api_timestamp(since) as since, delivered
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
    select api_timestamp(at) as at, key, status, summary, api_timestamp(since) as since, delivered
    from ops.alert_events
    where at >= now() - make_interval(hours => ${hours})
    order by at desc, id desc
    limit ${limit}`;
}

/** Deletes up to `batch` messages older than `days` days; returns how many it deleted. */
export async function pruneAlertEvents(sql: Sql, days: number, batch: number): Promise<number> {
  const deleted = await sql`
    delete from ops.alert_events
    where id in (select id from ops.alert_events where at < now() - make_interval(days => ${days}) order by id limit ${batch})`;
  return deleted.count;
}
