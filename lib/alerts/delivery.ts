/**
 * Where an alert goes: always a log line, and a POST to ALERT_WEBHOOK_URL when one is set
 * (Slack-compatible: `text` for people, `alert` for machines). The webhook URL is a secret
 * (a Slack hook URL is its own credential): it never reaches a log line or a reason.
 */
import { fetchFailureOf } from "../fetch-failure.js";
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

export type Delivery = { ok: true } | { ok: false; reason: string };
export type Deliver = (message: AlertMessage) => Promise<Delivery>;

/** @default 5000 */
const WEBHOOK_TIMEOUT_MS = 5000;

function text({ status, summary, since, at, details }: AlertMessage): string {
  if (status === "firing") return `[FIRING] ${summary} (since ${since})`;
  const minutes = Math.max(0, Math.round((Date.parse(at) - Date.parse(since)) / 60_000));
  const fired = typeof details.fired === "string" ? `; it fired with: ${details.fired}` : "";
  return `[RESOLVED] ${summary} (fired for ${minutes} min${fired})`;
}

/** Posts the message to the webhook; a non-2xx answer, a network error or a timeout is a failed delivery. */
export function webhookDelivery(url: string, timeoutMs = WEBHOOK_TIMEOUT_MS): Deliver {
  return async (message) => {
    try {
      const response = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ text: text(message), alert: message }),
        signal: AbortSignal.timeout(timeoutMs),
      });
      await response.arrayBuffer().catch(() => undefined);
      return response.ok ? { ok: true } : { ok: false, reason: `webhook answered ${response.status}` };
    } catch (error) {
      return { ok: false, reason: `webhook unreachable: ${fetchFailureOf(error)}` };
    }
  };
}

/** Every alert message is logged (the history); with a webhook it is also posted. */
export function loggedDelivery(webhookUrl: string | undefined): Deliver {
  const webhook = webhookUrl ? webhookDelivery(webhookUrl) : undefined;
  return async (message) => {
    const delivery: Delivery = webhook ? await webhook(message) : { ok: true };
    const fields = { ...message, delivered: webhook ? delivery.ok : "no ALERT_WEBHOOK_URL", ...(delivery.ok ? {} : { reason: delivery.reason }) };
    if (message.status === "firing") log.error("alert firing", fields);
    else log.info("alert resolved", fields);
    return delivery;
  };
}

export type RecordMessage = (message: AlertMessage, delivered: boolean) => Promise<void>;

/** @default 2000 */
const RECORD_WAIT_MS = 2000;

/**
 * Delivers, then records the message (the dashboard's alert history) when the record answers
 * within `waitMs`: an alert about the database being down must not wait on the database.
 * A failed or slow record is logged, never the alert's failure.
 */
export function recordedDelivery(deliver: Deliver, record: RecordMessage, waitMs = RECORD_WAIT_MS): Deliver {
  return async (message) => {
    const delivery = await deliver(message);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<"late">((resolve) => {
      timer = setTimeout(() => resolve("late"), waitMs);
      timer.unref();
    });
    const recorded = record(message, delivery.ok).then(
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
