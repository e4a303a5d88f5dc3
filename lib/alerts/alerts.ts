/**
 * Deduplicated alerts. An alert is known by a key (`threshold:lock_wait_ms`,
 * `job:stats-snapshot`); raising it sends a message the first time, then again only every
 * `repeatMs` while it keeps firing; clearing it sends one "resolved". The state lives in the
 * cache store (Upstash Redis on Vercel), not in PostgreSQL, so the failures that matter most,
 * the database's own, still alert. A short lock per key makes concurrent raises send once.
 * If the store itself fails, the message is sent anyway: a duplicate is better than a miss.
 * A failed delivery is not remembered as sent, so the next raise tries again.
 */
import { randomUUID } from "node:crypto";
import { cacheStore, type CacheStore } from "../cache/store.js";
import { config } from "../config.js";
import { log } from "../log.js";
import { recordAlertEvent } from "../data/alert-events.js";
import { directDb } from "../db/pool.js";
import { loggedDelivery, recordedDelivery, type AlertMessage, type Deliver } from "./delivery.js";

export interface AlertInput {
  key: string;
  summary: string;
  details?: Record<string, unknown>;
}

export type RaiseOutcome = "sent" | "repeated" | "suppressed" | "undelivered";
export type ClearOutcome = "resolved" | "not-firing" | "undelivered";

interface AlertState {
  since: number;
  /** When a message about it last reached its destination; null while none has. */
  notifiedAt: number | null;
  summary: string;
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

  return {
    async raise({ key, summary, details = {} }) {
      const outcome = await locked(key, async (state): Promise<RaiseOutcome> => {
        const due = !state || state.notifiedAt === null || now() - state.notifiedAt >= repeatMs;
        const since = state?.since ?? now();
        if (!due) {
          await saved(key, { ...state, summary });
          return "suppressed";
        }
        const delivery = await deliver(message(key, "firing", summary, since, details));
        await saved(key, { since, summary, notifiedAt: delivery.ok ? now() : (state?.notifiedAt ?? null) });
        if (!delivery.ok) return "undelivered";
        return state?.notifiedAt ? "repeated" : "sent";
      });
      if (outcome === undefined) return "suppressed";
      if (outcome !== "no-store") return outcome;
      return (await deliver(message(key, "firing", summary, now(), details))).ok ? "sent" : "undelivered";
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
        const forget = () => store.del([stateKey(key)]).catch(() => undefined);
        if (state.notifiedAt === null) {
          // Nobody heard it fire: nothing to take back.
          await forget();
          return "not-firing";
        }
        const delivery = await deliver(message(key, "resolved", resolution, state.since, { fired: state.summary }));
        if (!delivery.ok) return "undelivered";
        await forget();
        return "resolved";
      });
      // Without the store there is no telling whether it fired: say nothing rather than "resolved" at random.
      if (outcome === undefined || outcome === "no-store") return "not-firing";
      return outcome;
    },
  };
}

/** The platform's alerts: state in its cache store, messages to ALERT_WEBHOOK_URL, the log and ops.alert_events. */
export function platformAlerts(): Alerter {
  const { webhookUrl, repeatMs } = config().alerts;
  const deliver = recordedDelivery(loggedDelivery(webhookUrl), (message, delivered) => recordAlertEvent(directDb(), message, delivered));
  return alerter({ store: cacheStore(), deliver, repeatMs });
}
