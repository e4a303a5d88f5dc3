/**
 * The worker's jobs (the backup, the drill) from cron to result, one lifecycle for both: the
 * cron records one run per slot (its day) and hands it to the worker through QStash
 * (BACKUP_WORKER_URL, on Vercel) or runs it here; the worker claims a handed-off run, and a
 * redelivery of one already claimed does nothing; a hand-off QStash refuses marks the run
 * failed. Every run is monitored: a failure fires job:<name>, the next success resolves it.
 * A third job gives a WorkerJobKind: its table (lib/data/job-runs.ts), its message, its run.
 */
import { config } from "../lib/config.js";
import type { RunRecord } from "../lib/data/job-runs.js";
import { directDb } from "../lib/db/pool.js";
import { describedError } from "../lib/errors.js";
import { monitored } from "../lib/jobs/monitored.js";
import { publishJob, workerJobUrl, type WorkerJob } from "../lib/jobs/qstash.js";
import { log } from "../lib/log.js";

export interface WorkerJobKind<R> {
  job: WorkerJob;
  runs: RunRecord;
  /** The field of the worker's message that names the run. */
  idField: string;
  /** Runs recorded run `id` (running) to its end, marking it succeeded or failed. */
  run(id: string): Promise<R>;
}

export interface HandedOff {
  status: "handed-off";
  id: string;
  messageId: string;
}

export interface Duplicate {
  status: "duplicate";
  slot: string;
  /** The run that holds the slot. */
  id: string;
}

export interface NotPending {
  status: "not-pending";
  id: string;
}

/** Publishes requested run `id` to the worker through QStash (which reports back if it gives up); a refusal marks the run failed. */
async function handedOff<R>(kind: WorkerJobKind<R>, workerUrl: string, id: string): Promise<HandedOff> {
  try {
    const { messageId } = await publishJob(workerJobUrl(workerUrl, kind.job), { [kind.idField]: id }, `${kind.job}-${id}`);
    return { status: "handed-off", id, messageId };
  } catch (error) {
    await kind.runs
      .failed(directDb(), id, `could not hand the run to the worker: ${describedError(error)}`)
      .catch((recordError: unknown) =>
        log.error("recording the failed hand-off failed; the hand-off's own error follows", { job: kind.job, id, error: recordError }),
      );
    throw error;
  }
}

/**
 * What the job's cron does, once per slot however often it is delivered: with
 * BACKUP_WORKER_URL (on Vercel, where there is no pg_dump and a function lives 30 s), hand the
 * run to the worker; without, run it here. A slot whose run failed is run again.
 */
export function cronRun<R>(kind: WorkerJobKind<R>, slot: string): Promise<R | HandedOff | Duplicate> {
  const { workerUrl } = config().backups;
  return monitored(kind.job, async () => {
    const recorded = workerUrl ? await kind.runs.requested(directDb(), slot) : await kind.runs.started(directDb(), slot);
    if ("heldBy" in recorded) return { status: "duplicate", slot, id: recorded.heldBy };
    return workerUrl ? handedOff(kind, workerUrl, recorded.id) : kind.run(recorded.id);
  });
}

/** The worker's entry for a handed-off run; a redelivery of a run already running or done does nothing. */
export function requestedRun<R>(kind: WorkerJobKind<R>, id: string): Promise<R | NotPending> {
  return monitored(kind.job, async () => ((await kind.runs.claimed(directDb(), id)) ? kind.run(id) : { status: "not-pending", id }));
}

/** A run here and now, in no slot (`npm run db:backup`, `db:drill`; unmonitored: the caller decides). */
export async function runNow<R>(kind: WorkerJobKind<R>): Promise<R> {
  const recorded = await kind.runs.started(directDb());
  if (!("id" in recorded)) throw new Error("a run without a slot is never held");
  return kind.run(recorded.id);
}
