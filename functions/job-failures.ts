/**
 * QStash gave up delivering a message. A job to the worker (the worker is down, or kept
 * failing): the run is marked failed and its job alert fires now, instead of the recovery point
 * watchdog noticing a day later. An alert message to ALERT_WEBHOOK_URL: it is marked undelivered
 * in the alert history with QStash's last answer, and logged; no alert is raised about it (that
 * alert would go the same way). A report repeated (QStash retries its callbacks too) changes
 * nothing more. The destination's URL is never logged: an alert webhook's URL is its secret.
 */
import { platformAlerts } from "../lib/alerts/alerts.js";
import { markAlertUndelivered } from "../lib/data/alert-events.js";
import { directDb } from "../lib/db/pool.js";
import { workerJobOf, type WorkerJob } from "../lib/jobs/qstash.js";
import { log } from "../lib/log.js";
import { backupKind } from "./backup.js";
import { drillKind } from "./dr-drill.js";
import type { WorkerJobKind } from "./worker-jobs.js";

/** Each job the worker runs, by name. */
const KINDS: Record<WorkerJob, WorkerJobKind<unknown>> = { backup: backupKind, "dr-drill": drillKind };

export interface UndeliveredMessage {
  /** The destination QStash gave up on. */
  url: string;
  /** The message as published. */
  message: Record<string, unknown>;
  /** The destination's last answer (undefined when it never answered). */
  lastStatus: number | undefined;
  retried: number | undefined;
  /** QStash's id of the message. */
  messageId?: string | undefined;
}

export interface UndeliveredOutcome {
  status: "recorded" | "ignored";
  job?: WorkerJob;
  id?: string;
  /** The alert whose message it was. */
  alert?: string;
  /** Whether the run was still waiting or running (false: a worker finished it after all); for an alert, whether its message was found in the history. */
  marked?: boolean;
}

/** An alert message as delivery.ts publishes it: `text`, and `alert` with its key, status and start time. */
function alertIn(message: Record<string, unknown>): { key: string; status: string; since: string } | undefined {
  const alert = message.alert as Record<string, unknown> | null | undefined;
  if (typeof message.text !== "string" || typeof alert !== "object" || alert === null) return undefined;
  const { key, status, since } = alert;
  if (typeof key !== "string" || (status !== "firing" && status !== "resolved") || typeof since !== "string") return undefined;
  return { key, status, since };
}

const answerOf = (lastStatus: number | undefined) => (lastStatus ? `its last answer was HTTP ${lastStatus}` : "it never answered");

async function recordUndeliveredAlert(
  alert: { key: string; status: string; since: string },
  { lastStatus, retried, messageId }: UndeliveredMessage,
): Promise<UndeliveredOutcome> {
  const reason = `QStash gave up delivering it to ALERT_WEBHOOK_URL after ${retried ?? "its"} retries (${answerOf(lastStatus)})`;
  const marked = await markAlertUndelivered(directDb(), { messageId, ...alert }, reason);
  log.error("alert undelivered", { ...alert, reason, ...(messageId ? { qstashMessageId: messageId } : {}), inHistory: marked });
  return { status: "recorded", alert: alert.key, marked };
}

/** A message QStash gave up on: a worker's job or an alert, recorded as undelivered; anything else is ignored. */
export async function recordUndeliveredMessage(report: UndeliveredMessage): Promise<UndeliveredOutcome> {
  const job = workerJobOf(report.url);
  if (job) return recordUndeliveredJob(job, report);
  const alert = alertIn(report.message);
  if (alert) return recordUndeliveredAlert(alert, report);
  log.warn("QStash reported a failed delivery of a message this platform does not know");
  return { status: "ignored" };
}

function idIn(message: Record<string, unknown>, field: string): string | undefined {
  const value = message[field];
  return typeof value === "string" && /^\d{1,18}$/.test(value) ? value : undefined;
}

async function recordUndeliveredJob(job: WorkerJob, { url, message, lastStatus, retried }: UndeliveredMessage): Promise<UndeliveredOutcome> {
  const reason = `QStash gave up delivering to the worker after ${retried ?? "its"} retries (${answerOf(lastStatus)}): is the worker running at ${new URL(url).origin}?`;
  const kind = KINDS[job];
  const id = idIn(message, kind.idField);
  const marked = id ? await kind.runs.undelivered(directDb(), id, reason) : false;
  // A run the worker finished after all (its answer came too late for QStash) is not a failure.
  if (marked || !id) {
    await platformAlerts().raise({
      key: `job:${job}`,
      summary: `job ${job} failed: ${reason}`,
      details: { job, id: id ?? null, lastStatus: lastStatus ?? null },
    });
  }
  return { status: "recorded", job, ...(id ? { id } : {}), marked };
}
