/**
 * `npm run db:restore`'s use case: a backup (the newest, one by id, or one by location) checked
 * and restored into an empty database, with this machine's keys, and the restored record of
 * backups told the truth (lib/data/backups.ts, markRestoredRecord). It needs no database of its
 * own: on a fresh machine, the bucket settings, the age identity and the signing key suffice.
 */
import { stat } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import type { ArchiveSource } from "../lib/backups/catalog.js";
import { configuredIdentities } from "../lib/backups/encryption.js";
import { restoreBackup, verifyArchive, type RestoreResult, type VerifiedArchive } from "../lib/backups/restore.js";
import { config } from "../lib/config.js";
import { markRestoredRecord, verifiedLocalCopies } from "../lib/data/backups.js";
import { singleConnection } from "../lib/db/pool.js";
import { backupSourceById, latestBackupSource, recordedNewestBackup, signingKeys, sourceOf } from "./backup-catalog.js";

/** Which backup: the newest, one by id, or one by location (a path or an s3:// URL). */
export type BackupChoice = { latest: true } | { id: string } | { location: string };

export interface RestoreOptions {
  allowUnsigned?: boolean;
}

/** The source of the chosen backup, and for `latest` what ops.backups said of it. */
async function chosenSource(choice: BackupChoice, { allowUnsigned = false }: RestoreOptions): Promise<{ source: ArchiveSource; note?: string }> {
  if ("id" in choice) return { source: await backupSourceById(choice.id) };
  if ("location" in choice) return { source: sourceOf(choice.location) };
  const { recorded, note } = await recordedNewestBackup();
  return { source: await latestBackupSource({ allowUnsigned, recorded }), note };
}

async function keys(): Promise<{ keys: ReturnType<typeof signingKeys>; identities: string[] }> {
  const { ageIdentity, ageIdentityFile } = config().backups;
  return { keys: signingKeys(), identities: await configuredIdentities({ identity: ageIdentity, identityFile: ageIdentityFile }) };
}

export interface RecordRepair {
  /** Copies on disk the record called verified that this machine cannot find: now unconfirmed. */
  unconfirmedCopies: number;
  /** False when the restored schema predates the 'unconfirmed' status: those copies were left as they were. */
  copiesMarked: boolean;
}

export interface ChosenRestore extends RestoreResult {
  /** For `latest`: what ops.backups said, or why it was not read. */
  catalogNote?: string;
  /** Null when the restored schemas hold no ops.backups (a backup of another shape). */
  record: RecordRepair | null;
}

/** Whether a copy recorded at `location` (file://) is on this machine at its recorded size. */
async function presentHere(location: string, sizeBytes: number): Promise<boolean> {
  const info = await stat(fileURLToPath(location)).catch(() => undefined);
  return info?.isFile() === true && info.size === sizeBytes;
}

async function repairedRecord(targetUrl: string, restored: RestoreResult): Promise<RecordRepair | null> {
  if (!restored.manifest.schemas.includes("ops")) return null;
  const sql = singleConnection(targetUrl);
  try {
    const [present] = await sql<{ present: boolean }[]>`select to_regclass('ops.backup_copies') is not null as present`;
    if (!present?.present) return null;
    const unseen: string[] = [];
    for (const copy of await verifiedLocalCopies(sql)) if (!(await presentHere(copy.location, copy.sizeBytes))) unseen.push(copy.location);
    const { manifest } = restored;
    const copiesMarked = await markRestoredRecord(
      sql,
      {
        backupId: manifest.backupId,
        finishedAt: manifest.finishedAt,
        location: restored.archiveLocation,
        sizeBytes: manifest.sizeBytes,
        sha256: manifest.sha256,
        encrypted: manifest.encryption !== null,
      },
      unseen,
    );
    return { unconfirmedCopies: copiesMarked ? unseen.length : 0, copiesMarked };
  } finally {
    await sql.end();
  }
}

export async function restoreChosenBackup(choice: BackupChoice, targetUrl: string, options: RestoreOptions = {}): Promise<ChosenRestore> {
  const { dir, pgBinDir } = config().backups;
  const { source, note } = await chosenSource(choice, options);
  const restored = await restoreBackup({ source, targetUrl, workDir: dir, binDir: pgBinDir, allowUnsigned: options.allowUnsigned, ...(await keys()) });
  return { ...restored, catalogNote: note, record: await repairedRecord(targetUrl, restored) };
}

/** Checks a backup whole (signature, sizes, SHA-256, decryption, decompression) without restoring it. */
export async function verifyChosenBackup(choice: BackupChoice, options: RestoreOptions = {}): Promise<VerifiedArchive & { catalogNote?: string }> {
  const { source, note } = await chosenSource(choice, options);
  return { ...(await verifyArchive({ source, allowUnsigned: options.allowUnsigned, ...(await keys()) })), catalogNote: note };
}
