/**
 * `npm run db:recover`'s use case, scenario 2 of the runbook in one command: the chosen backup
 * (signature and identity checked as for any restore) restored into a scratch database, one
 * organization's rows that it has and the live database lacks put back (lib/recovery), and the
 * scratch database dropped. A dry run first gives the exact counts; nothing is written unless
 * the caller confirms them.
 */
import { configuredIdentities } from "../lib/backups/encryption.js";
import { parsedManifest } from "../lib/backups/manifest.js";
import { restoreBackup } from "../lib/backups/restore.js";
import { config, ConfigError } from "../lib/config.js";
import { newestSucceededBackup } from "../lib/data/backups.js";
import { directDb, singleConnection } from "../lib/db/pool.js";
import { log } from "../lib/log.js";
import { platformMode, type Mode } from "../lib/platform/mode.js";
import { recoverOrganizationRows, type TableOutcome } from "../lib/recovery/organization-rows.js";
import { backupSourceBefore, backupSourceById, latestBackupSource, signingKeys } from "./backup-catalog.js";

/** Which backup: the newest, one by id, or the newest taken before the damage. */
export type RecoveryChoice = { latest: true } | { id: string } | { before: Date };

export interface RecoveryBackup {
  id: string;
  /** When its snapshot was taken: rows written after this cannot come back from it. */
  takenAt: string;
  location: string;
}

export interface RecoveryOptions {
  organizationId: string;
  /** Only these tables (and, above them, the rows they need); all of the organization's by default. */
  tables?: string[];
  choice: RecoveryChoice;
  /** The server the scratch database is made on. @default DATABASE_URL's */
  serverUrl?: string;
  dryRun?: boolean;
  /** Hears which backup, before it is restored. */
  onBackup?: (backup: RecoveryBackup, scratchDatabase: string) => void;
  /** Asked with the dry run's counts before anything is written; false writes nothing. */
  confirm?: (plan: TableOutcome[]) => Promise<boolean>;
}

export interface RecoveryReport {
  backup: RecoveryBackup;
  /** The dry run's counts, or what the recovery wrote. */
  outcomes: TableOutcome[];
  applied: boolean;
  /** The live database's mode while it ran: writes open during a recovery deserve a word. */
  mode: Mode;
  scratchDatabase: string;
}

function databaseUrlOf(serverUrl: string, database: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

async function chosenSource(choice: RecoveryChoice) {
  if ("id" in choice) return backupSourceById(choice.id);
  if ("before" in choice) return backupSourceBefore(choice.before);
  return latestBackupSource({ recorded: await newestSucceededBackup(directDb()) });
}

export async function recoverOrganization({
  organizationId,
  tables = [],
  choice,
  serverUrl,
  dryRun = false,
  onBackup,
  confirm,
}: RecoveryOptions): Promise<RecoveryReport> {
  const { databaseUrl, backups } = config();
  if (!databaseUrl) throw new ConfigError("Invalid configuration: DATABASE_URL must be set to the live database to recover rows into");
  const server = serverUrl ?? databaseUrl;
  const source = await chosenSource(choice);
  const manifest = parsedManifest(await source.manifestText(), source.manifestLocation);
  const backup = { id: manifest.backupId, takenAt: manifest.startedAt, location: source.location(manifest.archive) };
  const scratchDatabase = `gap_recover_${Date.now()}`;
  onBackup?.(backup, scratchDatabase);
  const admin = singleConnection(server);
  const live = singleConnection(databaseUrl);
  let created = false;
  try {
    const { mode } = await platformMode();
    await admin`create database ${admin(scratchDatabase)}`;
    created = true;
    const scratchUrl = databaseUrlOf(server, scratchDatabase);
    const identities = await configuredIdentities({ identity: backups.ageIdentity, identityFile: backups.ageIdentityFile });
    await restoreBackup({ source, targetUrl: scratchUrl, workDir: backups.dir, keys: signingKeys(), identities, binDir: backups.pgBinDir });
    const copy = singleConnection(scratchUrl);
    try {
      const plan = await recoverOrganizationRows(live, copy, organizationId, { tables, dryRun: true });
      if (dryRun || !(await (confirm ?? (async () => true))(plan))) return { backup, outcomes: plan, applied: false, mode, scratchDatabase };
      return { backup, outcomes: await recoverOrganizationRows(live, copy, organizationId, { tables }), applied: true, mode, scratchDatabase };
    } finally {
      await copy.end();
    }
  } finally {
    if (created) {
      await admin`drop database if exists ${admin(scratchDatabase)} with (force)`.catch((error: unknown) =>
        log.error("dropping the recovery's scratch database failed: drop it by hand", { database: scratchDatabase, error }),
      );
    }
    await Promise.all([admin.end(), live.end()]);
  }
}
