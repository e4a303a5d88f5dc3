/**
 * Deduplicated alerts. An alert is known by a key (`threshold:lock_wait_ms`,
 * `job:stats-snapshot`); raising it sends a message the first time, then again only every
 * `repeatMs` while it keeps firing; clearing it sends one "resolved". The state lives in the
 * cache store (Upstash Redis on Vercel), not in PostgreSQL, so the failures that matter most,
 * the database's own, still alert. A short lock per key makes concurrent raises send once.
 * If the store itself fails, the message is sent anyway: a duplicate is better than a miss.
 * A failed delivery is not remembered as sent: the next raise tries again, and so does the next
 * scheduled run (`redeliverAlerts`: the snapshot and the recovery watchdog call it), for an alert
 * no later raise repeats (a job's failure). Each message carries a deduplication id (its key,
 * status and start time, and for a reminder its number) so QStash sends a repeated publish once.
 */
import { randomUUID } from "node:crypto";
import { cacheStore, type CacheStore } from "../cache/store.js";
import { config } from "../config.js";
import { log } from "../log.js";
import { abandonStaleAlertEvents, pendingAlertEvents, recordAlertEvent, setAlertDelivery, type PendingAlertEvent } from "../data/alert-events.js";
import { directDb } from "../db/pool.js";
import { deduplicationIdOf } from "../jobs/qstash.js";
import { deliveryRecord, loggedDelivery, recordedDelivery, type AlertMessage, type Deliver, type Delivery, type DeliveryRoute } from "./delivery.js";

export interface AlertInput {
  key: string;
  summary: string;
  details?: Record<string, unknown>;
}

export type RaiseOutcome = "sent" | "repeated" | "suppressed" | "undelivered";
export type ClearOutcome = "resolved" | "not-firing" | "undelivered";
/** A message sent again: delivered, still undelivered, or no longer true (resolved, or replaced by a newer message) and so not sent. */
export type RetryOutcome = { result: "delivered" | "undelivered"; delivery: Delivery } | { result: "replaced" };

interface AlertState {
  since: number;
  /** When a message about it last reached its destination; null while none has. */
  notifiedAt: number | null;
  summary: string;
  /** Firing messages delivered since it began (the first, then reminders). */
  notices?: number;
}

export interface AlerterOptions {
  store: CacheStore;
  deliver: Deliver;
  repeatMs: number;
  now?: () => number;
}

export interface Alerter {
  raise(alert: AlertInput): Promise<RaiseOutcome>;
  /** Resolves `key` if it fired; `resolution` says what is true now (the resolved message never repeats the firing text as if it still held). */
  clear(key: string, resolution?: string): Promise<ClearOutcome>;
  /** Sends again a message an earlier delivery failed, if it is still what the alert's state says (a firing not yet heard, or a resolution not yet delivered). */
  retry(message: AlertMessage): Promise<RetryOutcome>;
}

/** The message's deduplication id: the alert's key, status and start time, and for the nth reminder of one firing, n. */
function deduplicationId(message: AlertMessage, notice = 0): string {
  return deduplicationIdOf([message.key, message.status, message.since, ...(notice > 0 ? [`r${notice}`] : [])]);
}

/** State outlives the repeat interval, and is refreshed at every raise. */
const STATE_TTL_SECONDS = 7 * 24 * 3600;
const LOCK_TTL_MS = 10_000;
const stateKey = (key: string) => `gap:alert:${key}`;
const lockKey = (key: string) => `gap:alert-lock:${key}`;

function parsedState(raw: string | null | undefined): AlertState | undefined {
  if (!raw) return undefined;
  try {
    return JSON.parse(raw) as AlertState;
  } catch {
    return undefined;
  }
}

export function alerter({ store, deliver, repeatMs, now = Date.now }: AlerterOptions): Alerter {
  const message = (key: string, status: AlertMessage["status"], summary: string, since: number, details: Record<string, unknown> = {}): AlertMessage => ({
    key,
    status,
    summary,
    since: new Date(since).toISOString(),
    at: new Date(now()).toISOString(),
    details,
  });

  /** Runs `work` holding the key's lock; undefined when another caller holds it, "no-store" when the store failed. */
  async function locked<T>(key: string, work: (state: AlertState | undefined) => Promise<T>): Promise<T | undefined | "no-store"> {
    const token = randomUUID();
    let state: AlertState | undefined;
    try {
      if (!(await store.acquireLock(lockKey(key), token, LOCK_TTL_MS))) return undefined;
      [state] = (await store.mget([stateKey(key)])).map(parsedState);
    } catch (error) {
      log.warn("alert state unavailable: sending without deduplication", { key, error: error instanceof Error ? error.name : "unknown" });
      return "no-store";
    }
    try {
      return await work(state);
    } finally {
      await store.del([lockKey(key)]).catch(() => undefined);
    }
  }

  const saved = (key: string, state: AlertState) => store.set(stateKey(key), JSON.stringify(state), STATE_TTL_SECONDS).catch(() => undefined);
  const forgotten = (key: string) => store.del([stateKey(key)]).catch(() => undefined);

  return {
    async raise({ key, summary, details = {} }) {
      const outcome = await locked(key, async (state): Promise<RaiseOutcome> => {
        const due = !state || state.notifiedAt === null || now() - state.notifiedAt >= repeatMs;
        const since = state?.since ?? now();
        if (!due) {
          await saved(key, { ...state, summary });
          return "suppressed";
        }
        const notices = state?.notices ?? (state?.notifiedAt ? 1 : 0);
        const firing = message(key, "firing", summary, since, details);
        const delivery = await deliver(firing, { deduplicationId: deduplicationId(firing, notices) });
        await saved(
          key,
          delivery.ok ? { since, summary, notifiedAt: now(), notices: notices + 1 } : { since, summary, notifiedAt: state?.notifiedAt ?? null, notices },
        );
        if (!delivery.ok) return "undelivered";
        return state?.notifiedAt ? "repeated" : "sent";
      });
      if (outcome === undefined) return "suppressed";
      if (outcome !== "no-store") return outcome;
      const firing = message(key, "firing", summary, now(), details);
      return (await deliver(firing, { deduplicationId: deduplicationId(firing) })).ok ? "sent" : "undelivered";
    },

    async clear(key, resolution = "back to normal") {
      // Most clears find nothing firing: one read, no lock (every snapshot clears every figure under its level).
      const firing = await store.mget([stateKey(key)]).then(
        ([raw]) => raw !== null && raw !== undefined,
        () => true,
      );
      if (!firing) return "not-firing";
      const outcome = await locked(key, async (state): Promise<ClearOutcome> => {
        if (!state) return "not-firing";
        if (state.notifiedAt === null) {
          // Nobody heard it fire: nothing to take back.
          await forgotten(key);
          return "not-firing";
        }
        const resolved = message(key, "resolved", resolution, state.since, { fired: state.summary });
        const delivery = await deliver(resolved, { deduplicationId: deduplicationId(resolved) });
        if (!delivery.ok) return "undelivered";
        await forgotten(key);
        return "resolved";
      });
      // Without the store there is no telling whether it fired: say nothing rather than "resolved" at random.
      if (outcome === undefined || outcome === "no-store") return "not-firing";
      return outcome;
    },

    async retry(pending) {
      const send = () => deliver(pending, { deduplicationId: deduplicationId(pending) });
      const outcome = await locked(pending.key, async (state): Promise<RetryOutcome> => {
        // The alert's state is the judge: a firing nobody heard yet, or a resolution not yet delivered, of the same episode.
        const current = state !== undefined && state.since === Date.parse(pending.since) && (pending.status === "resolved" || state.notifiedAt === null);
        if (!current) return { result: "replaced" };
        const delivery = await send();
        if (!delivery.ok) return { result: "undelivered", delivery };
        if (pending.status === "resolved") await forgotten(pending.key);
        else await saved(pending.key, { ...state, notifiedAt: now(), notices: (state.notices ?? 0) + 1 });
        return { result: "delivered", delivery };
      });
      // Another caller holds the key: it is being dealt with now; try again next run.
      if (outcome === undefined) return { result: "undelivered", delivery: { ok: false, reason: "another delivery of this alert was under way", attempts: 0 } };
      if (outcome !== "no-store") return outcome;
      // Without the store, send: a duplicate is better than a miss.
      const delivery = await send();
      return { result: delivery.ok ? "delivered" : "undelivered", delivery };
    },
  };
}

function deliveryRoute(): DeliveryRoute {
  const { alerts, qstash } = config();
  return { webhookUrl: alerts.webhookUrl, throughQstash: Boolean(qstash.token), retryDelaysMs: alerts.retryDelaysMs };
}

/** The platform's alerts: state in its cache store, messages to ALERT_WEBHOOK_URL (through QStash with QSTASH_TOKEN), the log and ops.alert_events. */
export function platformAlerts(): Alerter {
  const deliver = recordedDelivery(loggedDelivery(deliveryRoute()), (message, delivery) => recordAlertEvent(directDb(), message, delivery));
  return alerter({ store: cacheStore(), deliver, repeatMs: config().alerts.repeatMs });
}

/** A message undelivered this long is given up (marked undelivered in the history). */
const REDELIVERY_HOURS = 24;
/** Messages sent again per run, at most: a run's time stays bounded when the webhook is down for long. */
const REDELIVERY_BATCH = 20;
/** A message younger than this is left to the run that made it (it tried a few times already). */
const REDELIVERY_MIN_AGE_MS = 60_000;

export interface Redelivery {
  /** Messages sent again (the first that fails ends the run's retries), and those of them delivered now. */
  retried: number;
  delivered: number;
  /** Messages given up: past REDELIVERY_HOURS, or replaced by a newer message about the same alert, or no longer true. */
  abandoned: number;
}

/** The record's message as it was first made (times as JavaScript wrote them: the same deduplication id). */
function messageOf(event: PendingAlertEvent): AlertMessage {
  const iso = (time: string) => new Date(time).toISOString();
  return { key: event.key, status: event.status, summary: event.summary, since: iso(event.since), at: iso(event.at), details: event.details };
}

/**
 * Sends again the alert messages earlier runs could not deliver (ops.alert_events: retrying),
 * each the newest of its alert and still true, and records what became of each: a job's failure
 * alert, raised once, is not lost to a webhook that was down at that moment. Called by the
 * scheduled runs (the snapshot, the recovery watchdog).
 */
export async function redeliverAlerts({ now = Date.now() }: { now?: number } = {}): Promise<Redelivery> {
  const sql = directDb();
  let abandoned = await abandonStaleAlertEvents(sql, REDELIVERY_HOURS);
  const pending = await pendingAlertEvents(sql, { before: new Date(now - REDELIVERY_MIN_AGE_MS), limit: REDELIVERY_BATCH });
  // Logged, not recorded again (the existing record is updated); one try each, and none after
  // the first that fails (the webhook is still down): the run's time stays short.
  const alerts = alerter({ store: cacheStore(), deliver: loggedDelivery({ ...deliveryRoute(), retryDelaysMs: [] }), repeatMs: config().alerts.repeatMs });
  let retried = 0;
  let delivered = 0;
  for (const event of pending) {
    retried++;
    const outcome = await alerts.retry(messageOf(event));
    if (outcome.result === "replaced") {
      abandoned++;
      await setAlertDelivery(sql, event.id, {
        state: "undelivered",
        reason: "not sent again: the alert was resolved or fired anew before it could be",
        attempts: event.attempts,
      });
      continue;
    }
    await setAlertDelivery(sql, event.id, deliveryRecord(outcome.delivery, event.attempts));
    if (outcome.result === "undelivered") break;
    delivered++;
  }
  if (retried || abandoned) log.info("undelivered alerts sent again", { retried, delivered, abandoned });
  return { retried, delivered, abandoned };
}

/** redeliverAlerts for a scheduled run: its failure is logged, never the run's. */
export async function alertsSentAgain(): Promise<Redelivery | undefined> {
  try {
    return await redeliverAlerts();
  } catch (error) {
    log.warn("undelivered alerts not sent again this run", { error });
    return undefined;
  }
}
