/**
 * The disaster-recovery drill: restore the backup a disaster would use (the newest in the
 * bucket when one is set, else in BACKUP_DIR, or an archive given) into a scratch database,
 * check it the way the application reads it, and record how long recovery took (download and
 * ANALYZE included), how old the recovered data was and how large the restored database is,
 * from which the recovery time of today's database is projected. The drill fails when the
 * backup it would restore is not the newest success ops.backups records. The scratch database
 * is dropped after.
 */
import { agentWithWorkflows } from "../lib/data/agents.js";
import { type ArchiveSource } from "../lib/backups/catalog.js";
import { configuredIdentities } from "../lib/backups/encryption.js";
import { DrillError } from "../lib/backups/errors.js";
import type { ExtensionOutcome } from "../lib/backups/extensions.js";
import { parsedManifest } from "../lib/backups/manifest.js";
import { restoreBackup } from "../lib/backups/restore.js";
import { config, ConfigError } from "../lib/config.js";
import { backupRecorded, newestSucceededBackup } from "../lib/data/backups.js";
import { markDrillFailed, markDrillSucceeded, recordDrillScratch } from "../lib/data/dr-drills.js";
import { drillRuns } from "../lib/data/job-runs.js";
import { errorCode } from "../lib/db/errors.js";
import { directDb, singleConnection } from "../lib/db/pool.js";
import { monitored } from "../lib/jobs/monitored.js";
import { latestBackupSource, signingKeys, sourceOf } from "./backup-catalog.js";
import { log } from "../lib/log.js";
import { describedError } from "../lib/errors.js";
import { secondsSince } from "../lib/units.js";
import { measureAdvice } from "./measured-advice.js";
import { cronRun, requestedRun, runNow, type Duplicate, type HandedOff, type NotPending, type WorkerJobKind } from "./worker-jobs.js";

export interface DrillOptions {
  /** An archive or manifest (a path, or an s3:// URL) to restore instead of the newest backup. */
  file?: string;
  /** The server to restore on (its database is only used to create the scratch one). @default DATABASE_URL */
  serverUrl?: string;
  /** Keep the scratch database for a look around. */
  keep?: boolean;
  /** Hears, before anything is restored, which backup and how much free space the server needs. */
  onPlan?: (plan: DrillPlan) => void;
  /** Measure the index advice on the restored copy after recovery is timed (functions/measured-advice.ts). @default true */
  measureAdvice?: boolean;
}

/** What measuring the advice on the drill's copy found, or why it did not run; its time is not part of the recovery time. */
export type DrillAdvice =
  { measured: true; seconds: number; suggested: number; notSuggested: number; withheld: number; notMeasured: number } | { measured: false; reason: string };

export interface DrillPlan {
  source: string;
  backupId: string;
  takenAt: string;
  /** About what the restore writes on the server: the backed-up database plus max_wal_size; null when the manifest predates the size. */
  spaceNeededBytes: number | null;
}

export interface DrillResult {
  id: string;
  backupId: string | null;
  /** Where the archive was read from: file://... or s3://... */
  source: string;
  scratchDatabase: string;
  /** From the drill's start (download included) to a restored database that passed its checks. */
  recoverySeconds: number;
  /** How old the recovered data was when the drill began. */
  dataAgeSeconds: number;
  tables: number;
  rows: number;
  /** The restored database's size: with the recovery time, the throughput that projects today's. */
  restoredBytes: number;
  analyzeSeconds: number;
  extensions: ExtensionOutcome[];
  applicationCheck: string;
  kept: boolean;
  advice: DrillAdvice;
}

function urlOfDatabase(serverUrl: string, database: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

/** The application's own read of the newest agent, against the restored database. */
async function applicationCheck(targetUrl: string): Promise<string> {
  const sql = singleConnection(targetUrl);
  try {
    const [newest] = await sql<{ id: string }[]>`select id from agents order by created_at desc, id limit 1`;
    if (!newest) return "no agents to read";
    const [agent] = await agentWithWorkflows(sql, newest.id);
    const workflows = (JSON.parse(agent?.json ?? "{}") as { workflows?: unknown[] }).workflows;
    if (!Array.isArray(workflows)) throw new DrillError(`the restored agent ${newest.id} did not read back with its workflows`);
    return `read agent ${newest.id} with ${workflows.length} workflow(s)`;
  } finally {
    await sql.end();
  }
}

/** What the restore will write on the server: the database as backed up, plus the WAL it may hold meanwhile. */
async function spaceNeeded(admin: ReturnType<typeof singleConnection>, databaseBytes: number | null): Promise<number | null> {
  if (databaseBytes === null) return null;
  const [row] = await admin<{ bytes: number }[]>`select pg_size_bytes(current_setting('max_wal_size'))::float8 as bytes`;
  return databaseBytes + (row?.bytes ?? 0);
}

/** Without a file named, the drill restores what a disaster would: the newest success, or it fails saying why. */
async function drilledSource(file: string | undefined): Promise<{ source: ArchiveSource; newest?: { id: string; finishedAt: string } }> {
  if (file) return { source: sourceOf(file) };
  const newest = await newestSucceededBackup(directDb());
  return { source: await latestBackupSource({ recorded: newest }), newest };
}

/** The advice measured on the drill's copy: a failure is said, and fails nothing (recovery was already proven). */
async function drillAdvice(id: string, targetUrl: string, copyTakenAt: string): Promise<DrillAdvice> {
  try {
    const { seconds, advice } = await measureAdvice(directDb(), targetUrl, { drillId: id, copyTakenAt });
    const count = (verdict: string) => advice.filter((a) => a.verdict === verdict).length;
    return {
      measured: true,
      seconds,
      suggested: count("suggested"),
      notSuggested: count("not suggested"),
      withheld: count("withheld"),
      notMeasured: count("not measured"),
    };
  } catch (error) {
    log.warn("measuring the advice on the drill's copy failed", { id, error });
    return { measured: false, reason: describedError(error) };
  }
}

async function runDrill(id: string, { file, serverUrl, keep = false, onPlan, measureAdvice: measuring = true }: DrillOptions): Promise<DrillResult> {
  const { databaseUrl, backups } = config();
  const started = performance.now();
  const startedAt = Date.now();
  const scratchDatabase = `gap_drill_${id}_${startedAt}`;
  let source: ArchiveSource | undefined;
  let created = false;
  const server = serverUrl ?? databaseUrl;
  const admin = server ? singleConnection(server) : undefined;
  try {
    if (!server || !admin) throw new ConfigError("Invalid configuration: DATABASE_URL must be set to run a drill");
    const chosen = await drilledSource(file);
    source = chosen.source;
    const manifest = parsedManifest(await source.manifestText(), source.manifestLocation);
    if (chosen.newest && manifest.backupId !== chosen.newest.id) {
      throw new DrillError(
        `the newest backup in the catalog is ${manifest.backupId}, but the newest success ops.backups records is ${chosen.newest.id} (finished ${chosen.newest.finishedAt}): ` +
          "a disaster would not restore the newest backup; find out why it is not the catalog's newest",
      );
    }
    const plan: DrillPlan = {
      source: source.location(manifest.archive),
      backupId: manifest.backupId,
      takenAt: manifest.finishedAt,
      spaceNeededBytes: await spaceNeeded(admin, manifest.databaseBytes),
    };
    if (onPlan) onPlan(plan);
    else log.info("drill starting", { id, ...plan });
    const identities = await configuredIdentities({ identity: backups.ageIdentity, identityFile: backups.ageIdentityFile });
    await admin`create database ${admin(scratchDatabase)}`.catch((error: unknown) => {
      if (errorCode(error) !== "42501") throw error;
      throw new DrillError(
        `the drill's role may not create its scratch database (${describedError(error)}): give it CREATEDB (Supabase's postgres has it), or run the drill with --server <url of a role that has it>`,
      );
    });
    created = true;
    await recordDrillScratch(directDb(), id, scratchDatabase);
    const targetUrl = urlOfDatabase(server, scratchDatabase);
    const restored = await restoreBackup({ source, targetUrl, workDir: backups.dir, keys: signingKeys(), identities, binDir: backups.pgBinDir });
    const check = await applicationCheck(targetUrl);
    const recoverySeconds = secondsSince(started);
    const [size] = await admin<{ bytes: number }[]>`select pg_database_size(${scratchDatabase})::float8 as bytes`;
    const dataAgeSeconds = Math.max(0, Math.round((startedAt - Date.parse(restored.takenAt)) / 1000));
    const backupId = (await backupRecorded(directDb(), restored.manifest.backupId)) ? restored.manifest.backupId : null;
    const done = {
      backupId,
      source: restored.archiveLocation,
      recoverySeconds,
      dataAgeSeconds,
      tables: restored.tables,
      rows: restored.rows,
      restoredBytes: size?.bytes ?? 0,
      analyzeSeconds: restored.analyzeSeconds,
    };
    await markDrillSucceeded(directDb(), id, done);
    const advice: DrillAdvice = measuring ? await drillAdvice(id, targetUrl, restored.takenAt) : { measured: false, reason: "not asked for" };
    return { id, ...done, scratchDatabase, extensions: restored.extensions, applicationCheck: check, kept: keep, advice };
  } catch (error) {
    await markDrillFailed(directDb(), id, describedError(error), source?.manifestLocation ?? null).catch((recordError: unknown) =>
      log.error("recording the failed drill failed; the drill's own error follows", { id, error: recordError }),
    );
    throw error;
  } finally {
    if (admin) {
      if (created && !keep) {
        await admin`drop database if exists ${admin(scratchDatabase)} with (force)`.catch((error: unknown) =>
          log.error("dropping the drill's scratch database failed: drop it by hand", { database: scratchDatabase, error }),
        );
      }
      await admin.end();
    }
  }
}

/** The drill as the worker's job lifecycle runs it (functions/worker-jobs.ts); the cron's drill restores the newest backup. */
export const drillKind: WorkerJobKind<DrillResult> = { job: "dr-drill", runs: drillRuns, idField: "drillId", run: (id) => runDrill(id, {}) };

/** A drill here and now. */
export function disasterRecoveryDrill(options: DrillOptions = {}): Promise<DrillResult> {
  return runNow({ ...drillKind, run: (id) => runDrill(id, options) });
}

/** A drill whose failure fires `job:dr-drill`, resolved by the next drill that succeeds. */
export function drillJob(options: DrillOptions = {}): Promise<DrillResult> {
  return monitored("dr-drill", () => disasterRecoveryDrill(options));
}

/** The weekly cron's slot: the UTC day it fires on. */
export function drillSlot(now: Date = new Date()): string {
  return `dr-drill-${now.toISOString().slice(0, 10)}`;
}

/** What the weekly cron does: one drill per day's slot, handed to the worker (where pg_restore is) or run here. */
export function drillCron(now: Date = new Date()): Promise<DrillResult | HandedOff | Duplicate> {
  return cronRun(drillKind, drillSlot(now));
}

/** The worker's entry for a handed-off drill. */
export function requestedDrillJob(id: string): Promise<DrillResult | NotPending> {
  return requestedRun(drillKind, id);
}
