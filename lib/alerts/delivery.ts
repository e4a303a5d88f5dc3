/**
 * Where an alert goes: always a log line, and ALERT_WEBHOOK_URL when one is set
 * (Slack-compatible: `text` for people, `alert` for machines). With QSTASH_TOKEN the message is
 * published to QStash with the webhook as its destination: QStash retries it with backoff and
 * calls the failure callback when it gives up. Without it, the webhook is posted to here, a few
 * times with backoff. The webhook URL is a secret (a Slack hook URL is its own credential): it
 * never reaches a log line, a reason or a record.
 */
import { fetchFailureOf } from "../fetch-failure.js";
import type { DeliveryRecord } from "../data/alert-events.js";
import { publishAlertMessage } from "../jobs/qstash.js";
import { log } from "../log.js";

export interface AlertMessage {
  key: string;
  status: "firing" | "resolved";
  summary: string;
  /** When the alert began firing, ISO 8601. */
  since: string;
  /** When this message was made, ISO 8601. */
  at: string;
  details: Record<string, unknown>;
}

export type Delivery =
  { ok: true; state?: "sent" | "queued" | "logged"; messageId?: string; attempts?: number } | { ok: false; reason: string; attempts?: number };

export interface DeliverOptions {
  /** The same message published twice within QStash's window is delivered once. */
  deduplicationId?: string;
}

export type Deliver = (message: AlertMessage, options?: DeliverOptions) => Promise<Delivery>;

/** @default 5000 */
const WEBHOOK_TIMEOUT_MS = 5000;

function text({ status, summary, since, at, details }: AlertMessage): string {
  if (status === "firing") return `[FIRING] ${summary} (since ${since})`;
  const minutes = Math.max(0, Math.round((Date.parse(at) - Date.parse(since)) / 60_000));
  const fired = typeof details.fired === "string" ? `; it fired with: ${details.fired}` : "";
  return `[RESOLVED] ${summary} (fired for ${minutes} min${fired})`;
}

/** What the webhook receives, directly or through QStash. */
export function webhookBody(message: AlertMessage): { text: string; alert: AlertMessage } {
  return { text: text(message), alert: message };
}

/** Whether trying again may help: the network, a timeout, 408, 425, 429 or a server error (not a 4xx that says the request is wrong). */
function worthRetrying(status: number | undefined): boolean {
  return status === undefined || status === 408 || status === 425 || status === 429 || status >= 500;
}

/** One POST; a non-2xx answer, a network error or a timeout is a failed delivery. */
async function postedOnce(url: string, message: AlertMessage, timeoutMs: number): Promise<{ ok: boolean; status?: number; reason: string }> {
  try {
    const response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(webhookBody(message)),
      signal: AbortSignal.timeout(timeoutMs),
    });
    await response.arrayBuffer().catch(() => undefined);
    return { ok: response.ok, status: response.status, reason: `webhook answered ${response.status}` };
  } catch (error) {
    return { ok: false, reason: `webhook unreachable: ${fetchFailureOf(error)}` };
  }
}

export interface WebhookOptions {
  timeoutMs?: number;
  /** The wait before each further try (ALERT_RETRY_DELAYS_MS); [] tries once. */
  retryDelaysMs: readonly number[];
}

/** Posts the message to the webhook, trying again after each of `retryDelaysMs` while the failure is worth retrying. */
export function webhookDelivery(url: string, { timeoutMs = WEBHOOK_TIMEOUT_MS, retryDelaysMs }: WebhookOptions): Deliver {
  return async (message) => {
    for (let attempt = 1; ; attempt++) {
      const posted = await postedOnce(url, message, timeoutMs);
      if (posted.ok) return { ok: true, state: "sent", attempts: attempt };
      const wait = retryDelaysMs[attempt - 1];
      if (wait === undefined || !worthRetrying(posted.status)) return { ok: false, reason: posted.reason, attempts: attempt };
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  };
}

/**
 * Publishes the message to QStash with the webhook as its destination: QStash delivers it and
 * retries (lib/jobs/qstash.ts), deduplicated by `deduplicationId`.
 */
export function qstashDelivery(webhookUrl: string): Deliver {
  return async (message, options = {}) => {
    try {
      const { messageId } = await publishAlertMessage(webhookUrl, webhookBody(message), options.deduplicationId);
      return { ok: true, state: "queued", messageId, attempts: 1 };
    } catch (error) {
      return { ok: false, reason: error instanceof Error ? error.message : "QStash did not take the message", attempts: 1 };
    }
  };
}

export interface DeliveryRoute {
  webhookUrl: string | undefined;
  /** Whether QSTASH_TOKEN is set: the webhook is then reached through QStash. */
  throughQstash: boolean;
  /** Without QStash, the waits between tries (ALERT_RETRY_DELAYS_MS). */
  retryDelaysMs: readonly number[];
}

/** Every alert message is logged (the history); with a webhook it is also sent, through QStash when it can be. */
export function loggedDelivery({ webhookUrl, throughQstash, retryDelaysMs }: DeliveryRoute): Deliver {
  const send = webhookUrl ? (throughQstash ? qstashDelivery(webhookUrl) : webhookDelivery(webhookUrl, { retryDelaysMs })) : undefined;
  return async (message, options) => {
    const delivery: Delivery = send ? await send(message, options) : { ok: true, state: "logged" };
    const fields = {
      ...message,
      delivered: send ? delivery.ok : "no ALERT_WEBHOOK_URL",
      ...(send ? { via: throughQstash ? "qstash" : "webhook", attempts: delivery.attempts ?? 1 } : {}),
      ...(delivery.ok && delivery.messageId ? { qstashMessageId: delivery.messageId } : {}),
      ...(delivery.ok ? {} : { reason: delivery.reason }),
    };
    if (message.status === "firing") log.error("alert firing", fields);
    else log.info("alert resolved", fields);
    return delivery;
  };
}

/** The record of a delivery: not delivered yet is retrying (the next scheduled run sends it again). */
export function deliveryRecord(delivery: Delivery, attemptsBefore = 0): DeliveryRecord {
  const attempts = attemptsBefore + (delivery.attempts ?? 1);
  if (delivery.ok) return { state: delivery.state ?? "sent", messageId: delivery.messageId, attempts };
  return { state: "retrying", reason: delivery.reason, attempts };
}

export type RecordMessage = (message: AlertMessage, delivery: DeliveryRecord) => Promise<void>;

/** @default 2000 */
const RECORD_WAIT_MS = 2000;

/**
 * Delivers, then records the message (the dashboard's alert history) when the record answers
 * within `waitMs`: an alert about the database being down must not wait on the database.
 * A failed or slow record is logged, never the alert's failure.
 */
export function recordedDelivery(deliver: Deliver, record: RecordMessage, waitMs = RECORD_WAIT_MS): Deliver {
  return async (message, options) => {
    const delivery = await deliver(message, options);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<"late">((resolve) => {
      timer = setTimeout(() => resolve("late"), waitMs);
      timer.unref();
    });
    const recorded = record(message, deliveryRecord(delivery)).then(
      () => "recorded" as const,
      (error: unknown) => {
        log.warn("alert message not recorded", { key: message.key, status: message.status, error });
        return "failed" as const;
      },
    );
    if ((await Promise.race([recorded, late])) === "late") log.warn("alert message not recorded in time", { key: message.key, status: message.status });
    clearTimeout(timer);
    return delivery;
  };
}
