/**
 * `npm run db:restore`'s use case: a backup (the newest, one by id, or one by location) checked
 * and restored into an empty database, with this machine's keys. It needs no database of its
 * own: on a fresh machine, the bucket settings, the age identity and the signing key suffice.
 */
import type { ArchiveSource } from "../lib/backups/catalog.js";
import { configuredIdentities } from "../lib/backups/encryption.js";
import { restoreBackup, verifyArchive, type RestoreResult, type VerifiedArchive } from "../lib/backups/restore.js";
import { config } from "../lib/config.js";
import { backupSourceById, newestBackupSource, sourceOf } from "./backup-catalog.js";

/** Which backup: the newest, one by id, or one by location (a path or an s3:// URL). */
export type BackupChoice = { latest: true } | { id: string } | { location: string };

export interface RestoreOptions {
  allowUnsigned?: boolean;
}

async function chosenSource(choice: BackupChoice, { allowUnsigned = false }: RestoreOptions): Promise<ArchiveSource> {
  if ("latest" in choice) return newestBackupSource({ allowUnsigned });
  if ("id" in choice) return backupSourceById(choice.id);
  return sourceOf(choice.location);
}

async function keys(): Promise<{ signingKey: string | undefined; identities: string[] }> {
  const { signingKey, ageIdentity, ageIdentityFile } = config().backups;
  return { signingKey, identities: await configuredIdentities({ identity: ageIdentity, identityFile: ageIdentityFile }) };
}

export async function restoreChosenBackup(choice: BackupChoice, targetUrl: string, options: RestoreOptions = {}): Promise<RestoreResult> {
  const { dir, pgBinDir } = config().backups;
  const source = await chosenSource(choice, options);
  return restoreBackup({ source, targetUrl, workDir: dir, binDir: pgBinDir, allowUnsigned: options.allowUnsigned, ...(await keys()) });
}

/** Checks a backup whole (signature, SHA-256, decryption) without restoring it. */
export async function verifyChosenBackup(choice: BackupChoice, options: RestoreOptions = {}): Promise<VerifiedArchive> {
  const source = await chosenSource(choice, options);
  return verifyArchive({ source, workDir: config().backups.dir, allowUnsigned: options.allowUnsigned, ...(await keys()) });
}
