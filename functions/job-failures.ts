/**
 * QStash gave up delivering a job to the worker (the worker is down, or kept failing): the run
 * is marked failed and its job alert fires now, instead of the recovery point watchdog noticing
 * a day later. A report repeated (QStash retries its callbacks too) changes nothing more.
 */
import { platformAlerts } from "../lib/alerts/alerts.js";
import { directDb } from "../lib/db/pool.js";
import { workerJobOf, type WorkerJob } from "../lib/jobs/qstash.js";
import { log } from "../lib/log.js";
import { backupKind } from "./backup.js";
import { drillKind } from "./dr-drill.js";
import type { WorkerJobKind } from "./worker-jobs.js";

/** Each job the worker runs, by name. */
const KINDS: Record<WorkerJob, WorkerJobKind<unknown>> = { backup: backupKind, "dr-drill": drillKind };

export interface UndeliveredJob {
  /** The destination QStash gave up on. */
  url: string;
  /** The message as published. */
  message: Record<string, unknown>;
  /** The destination's last answer (undefined when it never answered). */
  lastStatus: number | undefined;
  retried: number | undefined;
}

export interface UndeliveredOutcome {
  status: "recorded" | "ignored";
  job?: WorkerJob;
  id?: string;
  /** Whether the run was still waiting or running (false: a worker finished it after all). */
  marked?: boolean;
}

function idIn(message: Record<string, unknown>, field: string): string | undefined {
  const value = message[field];
  return typeof value === "string" && /^\d{1,18}$/.test(value) ? value : undefined;
}

export async function recordUndeliveredJob({ url, message, lastStatus, retried }: UndeliveredJob): Promise<UndeliveredOutcome> {
  const job = workerJobOf(url);
  if (!job) {
    log.warn("QStash reported a failed delivery to an unknown destination", { url });
    return { status: "ignored" };
  }
  const answer = lastStatus ? `its last answer was HTTP ${lastStatus}` : "it never answered";
  const reason = `QStash gave up delivering to the worker after ${retried ?? "its"} retries (${answer}): is the worker running at ${new URL(url).origin}?`;
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
