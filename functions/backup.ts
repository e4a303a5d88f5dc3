/**
 * Backups: the job that dumps the platform's schemas into BACKUP_DIR (an archive and its
 * manifest, recorded in ops.backups) and removes archives past retention, and the recovery
 * point watchdog that alerts when the newest success is older than BACKUP_RPO_HOURS.
 * Running the job twice makes two archives, never a half one.
 */
import { rm } from "node:fs/promises";
import { fileURLToPath, pathToFileURL } from "node:url";
import { platformAlerts } from "../lib/alerts/alerts.js";
import { writeBackup } from "../lib/backups/archive.js";
import { config, ConfigError } from "../lib/config.js";
import { deletedBackup, expiredBackups, failedBackup, recoveryPointAge, startedBackup, succeededBackup } from "../lib/data/backups.js";
import { directDb } from "../lib/db/pool.js";
import { monitored } from "../lib/jobs/monitored.js";

/** Successful archives kept whatever their age. */
export const KEEP_NEWEST = 3;

export interface BackupResult {
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

/** Removes each expired archive and its manifest, and records the removal. */
async function prunedArchives(): Promise<number> {
  const { retentionDays } = config().backups;
  const expired = await expiredBackups(directDb(), retentionDays, KEEP_NEWEST);
  for (const { id, location } of expired) {
    if (location.startsWith("file:")) {
      const archive = fileURLToPath(location);
      await rm(archive, { force: true });
      await rm(archive.replace(/\.dump$/, ".json"), { force: true });
    }
    await deletedBackup(directDb(), id);
  }
  return expired.length;
}

export async function takeBackup(): Promise<BackupResult> {
  const { databaseUrl, backups } = config();
  if (!databaseUrl) throw new ConfigError("Invalid configuration: DATABASE_URL must be set to take a backup");
  const started = performance.now();
  const { id } = await startedBackup(directDb());
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

/** The backup cron's entry: a failing run fires `job:backup`, resolved by the next success. */
export function backupJob(): Promise<BackupResult> {
  return monitored("backup", takeBackup);
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
