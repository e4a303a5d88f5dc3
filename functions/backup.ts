/**
 * Backups: the job that dumps the platform's schemas into BACKUP_DIR (an archive and its
 * manifest, recorded in ops.backups) and removes archives past retention, and the recovery
 * point watchdog that alerts when the newest success is older than BACKUP_RPO_HOURS.
 * Running the job twice makes two archives, never a half one.
 */
import { rm } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { platformAlerts } from "../lib/alerts/alerts.js";
import { writeBackup } from "../lib/backups/archive.js";
import { config, ConfigError } from "../lib/config.js";
import {
  claimedBackup,
  deletedBackup,
  expiredBackups,
  failedBackup,
  recoveryPointAge,
  requestedBackup,
  startedBackup,
  succeededBackup,
} from "../lib/data/backups.js";
import { directDb } from "../lib/db/pool.js";
import { log } from "../lib/log.js";
import { monitored } from "../lib/jobs/monitored.js";
import { publishedJob, workerJobUrl } from "../lib/jobs/qstash.js";

/** Successful archives kept whatever their age. */
export const KEEP_NEWEST = 3;

export interface BackupResult {
  status: "succeeded";
  id: string;
  location: string;
  sizeBytes: number;
  sha256: string;
  tables: number;
  rows: number;
  seconds: number;
  /** Archives past retention removed by this run. */
  pruned: number;
}

function archiveName(id: string, at: Date): string {
  return `gap-${at.toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z")}-${id}`;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The archive at `location` when it is one of ours inside `dir`: only those are ever deleted. */
function prunableArchive(location: string, dir: string): string | undefined {
  if (!location.startsWith("file:")) return undefined;
  const archive = fileURLToPath(location);
  const inside = path.relative(path.resolve(dir), archive);
  return archive.endsWith(".dump") && !inside.startsWith("..") && !path.isAbsolute(inside) ? archive : undefined;
}

/** Removes each expired archive and its manifest, and records the removal. */
async function prunedArchives(): Promise<number> {
  const { retentionDays, dir } = config().backups;
  const expired = await expiredBackups(directDb(), retentionDays, KEEP_NEWEST);
  let pruned = 0;
  for (const { id, location } of expired) {
    const archive = prunableArchive(location, dir);
    if (!archive) {
      log.warn("expired backup left in place: its archive is not in BACKUP_DIR", { id, location });
      continue;
    }
    await rm(archive, { force: true });
    await rm(archive.replace(/\.dump$/, ".json"), { force: true });
    await deletedBackup(directDb(), id);
    pruned++;
  }
  return pruned;
}

/** Runs backup `id` (already recorded as running) to its end, success or failure. */
async function backedUp(id: string): Promise<BackupResult> {
  const { databaseUrl, backups } = config();
  if (!databaseUrl) throw new ConfigError("Invalid configuration: DATABASE_URL must be set to take a backup");
  const started = performance.now();
  let written;
  try {
    written = await writeBackup({ url: databaseUrl, dir: backups.dir, name: archiveName(id, new Date()), binDir: backups.pgBinDir });
  } catch (error) {
    await failedBackup(directDb(), id, messageOf(error)).catch(() => undefined);
    throw error;
  }
  const { manifest, archivePath } = written;
  const location = pathToFileURL(archivePath).toString();
  await succeededBackup(directDb(), id, { location, sizeBytes: manifest.sizeBytes, sha256: manifest.sha256 });
  return {
    status: "succeeded",
    id,
    location,
    sizeBytes: manifest.sizeBytes,
    sha256: manifest.sha256,
    tables: Object.keys(manifest.tables).length,
    rows: Object.values(manifest.tables).reduce((sum, n) => sum + n, 0),
    seconds: Math.round((performance.now() - started) / 10) / 100,
    pruned: await prunedArchives(),
  };
}

/** A backup here and now. */
export async function takeBackup(): Promise<BackupResult> {
  const { id } = await startedBackup(directDb());
  return backedUp(id);
}

/** The backup cron's entry: a failing run fires `job:backup`, resolved by the next success. */
export function backupJob(): Promise<BackupResult> {
  return monitored("backup", takeBackup);
}

export interface HandedOffBackup {
  status: "handed-off";
  id: string;
  messageId: string;
}

/** Records a requested run and publishes it to the worker through QStash. */
async function handedOffBackup(workerUrl: string): Promise<HandedOffBackup> {
  const { id } = await requestedBackup(directDb());
  try {
    const { messageId } = await publishedJob(workerJobUrl(workerUrl, "backup"), { backupId: id }, `backup-${id}`);
    return { status: "handed-off", id, messageId };
  } catch (error) {
    await failedBackup(directDb(), id, `could not hand the run to the worker: ${messageOf(error)}`).catch(() => undefined);
    throw error;
  }
}

/**
 * What the daily cron does: with BACKUP_WORKER_URL (on Vercel, where there is no pg_dump and a
 * function lives 30 s), hand the run to the worker; without, run it here.
 */
export function backupCron(): Promise<BackupResult | HandedOffBackup> {
  const { workerUrl } = config().backups;
  return workerUrl ? monitored("backup", () => handedOffBackup(workerUrl)) : backupJob();
}

export interface SkippedBackup {
  status: "not-pending";
  id: string;
}

/** The worker's entry for a handed-off run; a redelivery of a run already running or done does nothing. */
export function requestedBackupJob(id: string): Promise<BackupResult | SkippedBackup> {
  return monitored("backup", async () => ((await claimedBackup(directDb(), id)) ? backedUp(id) : { status: "not-pending", id }));
}

export interface RecoveryPoint {
  status: "ok" | "late";
  ageHours: number | null;
  newestBackupAt: string | null;
  rpoHours: number;
}

/** Fires `backup:rpo` while the recovery point is older than the objective, resolves it after. */
export async function recoveryPointCheck(): Promise<RecoveryPoint> {
  const rpoHours = config().backups.rpoMs / 3_600_000;
  const { seconds, newestBackupAt } = await recoveryPointAge(directDb());
  const ageHours = seconds === null ? null : Math.round((seconds / 3600) * 10) / 10;
  const late = ageHours !== null && ageHours > rpoHours;
  const alerts = platformAlerts();
  if (!late) {
    await alerts.clear("backup:rpo");
    return { status: "ok", ageHours, newestBackupAt, rpoHours };
  }
  await alerts.raise({
    key: "backup:rpo",
    summary: newestBackupAt
      ? `the newest successful backup is ${ageHours} h old, past the recovery point objective of ${rpoHours} h`
      : `no successful backup in the ${ageHours} h since monitoring began, past the recovery point objective of ${rpoHours} h`,
    details: { ageHours, newestBackupAt, rpoHours },
  });
  return { status: "late", ageHours, newestBackupAt, rpoHours };
}
