/**
 * Backups: the job that dumps the platform's schemas into BACKUP_DIR (archives compressed,
 * encrypted when recipients are set, and a signed manifest), copies them to the bucket when one
 * is set, records every copy in ops.backup_copies, and removes copies past retention; and the
 * recovery point watchdog that alerts when the newest success is older than BACKUP_RPO_HOURS.
 * A run succeeds only once every copy is verified. The cron takes one backup per day's slot
 * however often it is delivered; `npm run db:backup` takes one whenever asked.
 */
import { readdir, rm } from "node:fs/promises";
import path from "node:path";
import { Readable } from "node:stream";
import { fileURLToPath, pathToFileURL } from "node:url";
import { alertsSentAgain, platformAlerts, type Redelivery } from "../lib/alerts/alerts.js";
import { writeBackup, type WrittenBackup } from "../lib/backups/dump.js";
import { BackupStoreError } from "../lib/backups/errors.js";
import { manifestFiles } from "../lib/backups/manifest.js";
import { backupName, backupNameOf, isPlatformArchive } from "../lib/backups/names.js";
import { objectStore, parsedS3Url, type ObjectStore } from "../lib/backups/object-store.js";
import { regularFileStream } from "../lib/backups/private-files.js";
import { config, ConfigError, type BucketSettings } from "../lib/config.js";
import { expiredBackups, markBackupDeleted, markBackupSucceeded, recordBackupCopy, recoveryPointAge } from "../lib/data/backups.js";
import { recoveryProjection } from "../lib/data/dr-drills.js";
import { backupRuns } from "../lib/data/job-runs.js";
import { directDb } from "../lib/db/pool.js";
import { monitored } from "../lib/jobs/monitored.js";
import { log } from "../lib/log.js";
import { cronRun, requestedRun, runNow, type Duplicate, type HandedOff, type NotPending, type WorkerJobKind } from "./worker-jobs.js";
import { describedError } from "../lib/errors.js";
import { bytesText, secondsSince } from "../lib/units.js";

/** Successful archives kept whatever their age. */
export const KEEP_NEWEST = 3;

export interface BackupResult {
  status: "succeeded";
  id: string;
  /** The archive on this machine (file://). */
  location: string;
  /** Every verified copy: the local archive, and the bucket's (s3://) when one is set. */
  copies: string[];
  sizeBytes: number;
  sha256: string;
  encrypted: boolean;
  /** Supabase Auth users carried in the auth archive; null where the database has no Auth. */
  authUsers: number | null;
  tables: number;
  rows: number;
  seconds: number;
  /** Backups past retention whose copies this run removed. */
  pruned: number;
  /** Why removing expired copies failed (logged and alerted on its own; the backup still succeeded). */
  pruneError?: string;
}

function signingKey(): string {
  const key = config().backups.signingKey;
  if (!key) {
    throw new ConfigError("Invalid configuration: BACKUP_SIGNING_KEY must be set to sign backups (npm start and npm run db:backup make one in LOCAL_DATA_DIR)");
  }
  return key;
}

/**
 * Copies the archives and the manifest to the bucket and reads each archive back: the copy
 * counts only when the store holds the same sizes and SHA-256 as were written. The manifest
 * goes last, so a manifest in the bucket always stands beside verified archives.
 */
async function copyToBucket(id: string, written: WrittenBackup, settings: BucketSettings): Promise<string> {
  const store = objectStore(settings);
  const { manifest } = written;
  const location = store.location(`${settings.prefix}${manifest.archive}`);
  await recordBackupCopy(directDb(), id, location, { status: "uploading" });
  try {
    for (const [index, file] of manifestFiles(manifest).entries()) {
      const key = `${settings.prefix}${file.archive}`;
      await store.upload(key, await regularFileStream(written.archivePaths[index] ?? ""));
      const stored = await store.digest(key);
      if (stored.sizeBytes !== file.sizeBytes || stored.sha256 !== file.sha256) {
        throw new BackupStoreError(
          `the bucket holds ${store.location(key)} as ${stored.sizeBytes} bytes with sha256 ${stored.sha256}, not the ${file.sizeBytes} bytes written`,
        );
      }
    }
    await store.upload(`${settings.prefix}${path.basename(written.manifestPath)}`, Readable.from([written.manifestText]), { contentType: "application/json" });
    await recordBackupCopy(directDb(), id, location, { status: "verified", sizeBytes: manifest.sizeBytes, sha256: manifest.sha256 });
    return location;
  } catch (error) {
    const reason = `${describedError(error)}; the archive is kept at ${written.archivePaths[0]}`;
    await recordBackupCopy(directDb(), id, location, { status: "failed", error: reason }).catch((recordError: unknown) =>
      log.error("recording the failed bucket copy failed", { id, error: recordError }),
    );
    throw new BackupStoreError(reason, { cause: error });
  }
}

/** Runs backup `id` (already recorded as running) to its end, success or failure. */
async function runBackup(id: string): Promise<BackupResult> {
  const { databaseUrl, backups } = config();
  const started = performance.now();
  let written: WrittenBackup;
  const copies: string[] = [];
  try {
    if (!databaseUrl) throw new ConfigError("Invalid configuration: DATABASE_URL must be set to take a backup");
    written = await writeBackup({
      url: databaseUrl,
      dir: backups.dir,
      name: backupName(id, new Date()),
      backupId: id,
      signingKey: signingKey(),
      recipients: backups.ageRecipients,
      binDir: backups.pgBinDir,
    });
    const { sizeBytes, sha256 } = written.manifest;
    const local = pathToFileURL(written.archivePaths[0] ?? "").toString();
    await recordBackupCopy(directDb(), id, local, { status: "verified", sizeBytes, sha256 });
    copies.push(local);
    if (backups.s3) copies.push(await copyToBucket(id, written, backups.s3));
    await markBackupSucceeded(directDb(), id, { location: local, sizeBytes, sha256, encrypted: written.manifest.encryption !== null, signed: true });
  } catch (error) {
    await backupRuns
      .failed(directDb(), id, describedError(error))
      .catch((recordError: unknown) => log.error("recording the failed backup failed; the backup's own error follows", { id, error: recordError }));
    throw error;
  }
  const { manifest } = written;
  return {
    status: "succeeded",
    id,
    location: copies[0] ?? "",
    copies,
    sizeBytes: manifest.sizeBytes,
    sha256: manifest.sha256,
    encrypted: manifest.encryption !== null,
    authUsers: manifest.auth?.tables["auth.users"] ?? null,
    tables: Object.keys(manifest.tables).length,
    rows: Object.values(manifest.tables).reduce((sum, n) => sum + n, 0),
    seconds: secondsSince(started),
    ...(await pruneAfterBackup()),
  };
}

/** The folder of `location` when it is an archive of ours inside `dir`: only those are ever deleted. */
function prunableFolder(location: string, dir: string): string | undefined {
  if (!location.startsWith("file:")) return undefined;
  const archive = fileURLToPath(location);
  const inside = path.relative(path.resolve(dir), archive);
  return isPlatformArchive(archive) && !inside.startsWith("..") && !path.isAbsolute(inside) ? path.dirname(archive) : undefined;
}

/**
 * Removes one copy, every file of the backup's name (archives and manifest), if it is ours to
 * remove (in BACKUP_DIR, or under this bucket's prefix); false when it is not.
 */
async function removeCopy(location: string, dir: string, store: ObjectStore | undefined): Promise<boolean> {
  const name = backupNameOf(location);
  if (!name) return false;
  const folder = prunableFolder(location, dir);
  if (folder) {
    const files = (await readdir(folder)).filter((file) => file.startsWith(`${name}.`));
    for (const file of files) await rm(path.join(folder, file), { force: true });
    return true;
  }
  const object = parsedS3Url(location);
  if (!store || !object || object.bucket !== store.bucket || !object.key.startsWith(store.prefix)) return false;
  await store.remove((await store.list(`${store.prefix}${name}.`)).map((stored) => stored.key));
  return true;
}

/** Removes each expired backup's copies and records the removals; a backup is deleted once all its copies are. */
async function pruneExpired(): Promise<number> {
  const { retentionDays, dir, s3 } = config().backups;
  const store = s3 ? objectStore(s3) : undefined;
  let pruned = 0;
  for (const { id, locations } of await expiredBackups(directDb(), retentionDays, KEEP_NEWEST)) {
    let keptAny = false;
    for (const location of locations) {
      if (await removeCopy(location, dir, store)) {
        await recordBackupCopy(directDb(), id, location, { status: "deleted" });
      } else {
        keptAny = true;
        log.warn("expired backup copy left in place: it is not in BACKUP_DIR or under this bucket's prefix", { id, location });
      }
    }
    if (!keptAny) {
      await markBackupDeleted(directDb(), id);
      pruned++;
    }
  }
  return pruned;
}

/** Pruning after a backup that succeeded: its failure is logged and fires `job:backup-prune`, never fails the backup. */
async function pruneAfterBackup(): Promise<{ pruned: number; pruneError?: string }> {
  try {
    return { pruned: await monitored("backup-prune", pruneExpired) };
  } catch (error) {
    log.error("removing expired backups failed; the backup itself succeeded", { error });
    return { pruned: 0, pruneError: describedError(error) };
  }
}

/** The backup as the worker's job lifecycle runs it (functions/worker-jobs.ts). */
export const backupKind: WorkerJobKind<BackupResult> = { job: "backup", runs: backupRuns, idField: "backupId", run: runBackup };

/** A backup here and now. */
export function takeBackup(): Promise<BackupResult> {
  return runNow(backupKind);
}

/** `npm run db:backup`: a backup on demand; a failing run fires `job:backup`, resolved by the next success. */
export function backupJob(): Promise<BackupResult> {
  return monitored("backup", takeBackup);
}

/** The cron's slot: the UTC day its schedule (once a day, lib/jobs/schedules.ts) falls on. */
export function backupSlot(now: Date = new Date()): string {
  return `daily-${now.toISOString().slice(0, 10)}`;
}

/** What the daily cron does: one backup per day's slot, handed to the worker or taken here (functions/worker-jobs.ts). */
export function backupCron(now: Date = new Date()): Promise<BackupResult | HandedOff | Duplicate> {
  return cronRun(backupKind, backupSlot(now));
}

/** The worker's entry for a handed-off backup. */
export function requestedBackupJob(id: string): Promise<BackupResult | NotPending> {
  return requestedRun(backupKind, id);
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
    await alerts.clear("backup:rpo", `the newest backup is ${ageHours ?? "?"} h old, within the ${rpoHours} h objective`);
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

export interface RecoveryTime {
  /** over: the projection passes the objective; unmeasured: no drill has measured its throughput yet. */
  status: "ok" | "over" | "unmeasured";
  projectedMinutes: number | null;
  rtoMinutes: number;
}

/**
 * Fires `backup:rto` while a recovery of the database at its size today would take longer
 * than the objective at the newest drill's throughput (a drill measures the backup it restores,
 * which may be smaller), resolves it after.
 */
export async function recoveryTimeCheck(): Promise<RecoveryTime> {
  const rtoMinutes = config().backups.rtoSeconds / 60;
  const projection = await recoveryProjection(directDb());
  const alerts = platformAlerts();
  if (!projection) return { status: "unmeasured", projectedMinutes: null, rtoMinutes };
  const projectedMinutes = Math.round((projection.projectedSeconds / 60) * 10) / 10;
  if (projectedMinutes <= rtoMinutes) {
    await alerts.clear("backup:rto", `a restore would take about ${projectedMinutes} min, within the ${rtoMinutes} min objective`);
    return { status: "ok", projectedMinutes, rtoMinutes };
  }
  await alerts.raise({
    key: "backup:rto",
    summary:
      `at its size today (${bytesText(projection.databaseBytes)}) the database would take about ${projectedMinutes} min to recover, past the recovery time objective of ${rtoMinutes} min ` +
      `(the drill of ${projection.drilledAt.slice(0, 16)} UTC restored ${bytesText(projection.restoredBytes)} in ${Math.round(projection.recoverySeconds)} s)`,
    details: { projectedMinutes, rtoMinutes, databaseBytes: projection.databaseBytes },
  });
  return { status: "over", projectedMinutes, rtoMinutes };
}

/**
 * The recovery watchdog's run (every 15 minutes): the recovery point and the projected recovery
 * time against their objectives; then the alert messages earlier runs could not deliver, sent again.
 */
export async function recoveryWatchdog(): Promise<RecoveryPoint & { recoveryTime: RecoveryTime; alertsRedelivered: Redelivery | undefined }> {
  const point = await recoveryPointCheck();
  const recoveryTime = await recoveryTimeCheck();
  return { ...point, recoveryTime, alertsRedelivered: await alertsSentAgain() };
}
