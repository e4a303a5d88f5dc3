/**
 * Finding backups without the database: BACKUP_DIR's files and the bucket's listing are the
 * catalog, and ops.backups, when it can be read, says which success is the newest. What `npm
 * run db:backups` lists, and what `latest`, `--backup <id>` and an `s3://` URL mean to a
 * restore or a drill.
 */
import {
  bucketCatalog,
  bucketSource,
  latestEntry,
  localCatalog,
  localSource,
  type ArchiveSource,
  type CatalogEntry,
  type RecordedNewest,
} from "../lib/backups/catalog.js";
import { streamDigest } from "../lib/backups/digest.js";
import { BackupNotFoundError } from "../lib/backups/errors.js";
import { manifestFiles, type SigningKeys } from "../lib/backups/manifest.js";
import { manifestPathOf } from "../lib/backups/names.js";
import { objectStore, parsedS3Url } from "../lib/backups/object-store.js";
import { config, ConfigError } from "../lib/config.js";
import { newestSucceededBackup } from "../lib/data/backups.js";
import { describedError } from "../lib/errors.js";
import { directDb } from "../lib/db/pool.js";

function bucketSettings() {
  const { s3 } = config().backups;
  if (!s3) throw new ConfigError("Invalid configuration: BACKUP_S3_BUCKET (and the other BACKUP_S3_ settings) must be set to read from a bucket");
  return s3;
}

/** The keys a manifest may be signed with here: BACKUP_SIGNING_KEY and BACKUP_PREVIOUS_SIGNING_KEYS. */
export function signingKeys(): SigningKeys {
  const { signingKey, previousSigningKeys } = config().backups;
  return { current: signingKey, previous: previousSigningKeys };
}

/** An archive or manifest given by location: an `s3://bucket/key` URL, or a path on this machine. */
export function sourceOf(location: string): ArchiveSource {
  const object = parsedS3Url(location);
  if (!object) return localSource(location);
  const store = objectStore({ ...bucketSettings(), bucket: object.bucket });
  return bucketSource(store, manifestPathOf(object.key));
}

/** Where a restore or drill looks when not told: the bucket when one is set, else BACKUP_DIR. */
async function defaultCatalog(): Promise<{ entries: CatalogEntry[]; where: string }> {
  const { s3, dir } = config().backups;
  if (s3) return { entries: await bucketCatalog(objectStore(s3), signingKeys()), where: `s3://${s3.bucket}/${s3.prefix}` };
  return { entries: await localCatalog(dir, signingKeys()), where: `BACKUP_DIR (${dir})` };
}

/** What ops.backups says of the newest success, and in words whether it could be asked. */
export interface RecordCheck {
  recorded: RecordedNewest | undefined;
  /** "ops.backups: newest success 41", or why it was not read. */
  note: string;
}

/** ops.backups' newest success, when DATABASE_URL is set and answers; a restore goes on without it. */
export async function recordedNewestBackup(): Promise<RecordCheck> {
  if (!config().databaseUrl) return { recorded: undefined, note: "ops.backups not read (DATABASE_URL is not set): judged by the catalog alone" };
  try {
    const recorded = await newestSucceededBackup(directDb());
    return { recorded, note: recorded ? `ops.backups: newest success is backup ${recorded.id}` : "ops.backups records no success" };
  } catch (error) {
    return { recorded: undefined, note: `ops.backups not read (${describedError(error)}): judged by the catalog alone` };
  }
}

/**
 * The backup a disaster would restore: the newest there is. When it cannot be restored this
 * refuses, naming it and why (catalog.ts); an older one is restored only when named by id.
 */
export async function latestBackupSource({
  allowUnsigned = false,
  recorded,
}: { allowUnsigned?: boolean; recorded?: RecordedNewest } = {}): Promise<ArchiveSource> {
  const { entries, where } = await defaultCatalog();
  const entry = latestEntry(entries, where, { allowUnsigned, recorded });
  if (!entry.source) throw new BackupNotFoundError(`${entry.name} has no manifest`);
  return entry.source;
}

/**
 * The backup to rewind to from damage done at `before`: the newest whose snapshot was taken
 * before then. When that one cannot be restored this refuses, naming it and why, as `latest` does.
 */
export async function backupSourceBefore(before: Date): Promise<ArchiveSource> {
  const { entries, where } = await defaultCatalog();
  const earlier = entries.filter((entry) => entry.startedAt !== null && Date.parse(entry.startedAt) < before.getTime());
  if (!earlier.length) throw new BackupNotFoundError(`no backup in ${where} was taken before ${before.toISOString()}`);
  const entry = latestEntry(earlier, `${where} before ${before.toISOString()}`);
  if (!entry.source) throw new BackupNotFoundError(`${entry.name} has no manifest`);
  return entry.source;
}

/** The backup of id `id`: its copy here when there is one, else the bucket's. */
export async function backupSourceById(id: string): Promise<ArchiveSource> {
  const { s3, dir } = config().backups;
  const local = await localCatalog(dir, signingKeys());
  const remote = s3 ? await bucketCatalog(objectStore(s3), signingKeys()) : [];
  const matches = [...local, ...remote].filter((entry) => entry.id === id && entry.source !== null);
  const best =
    matches.find((entry) => entry.trust === "signed" && entry.archive === "present") ?? matches.find((entry) => entry.archive === "present") ?? matches[0];
  if (!best?.source) throw new BackupNotFoundError(`no backup ${id} in BACKUP_DIR${s3 ? " or the bucket" : ""}`);
  return best.source;
}

export interface ListedBackup {
  where: "local" | "bucket";
  id: string | null;
  finishedAt: string | null;
  sizeBytes: number | null;
  encrypted: boolean | null;
  /** signed (by this installation's key or a previous one), unsigned, other-key, bad-signature, no-key-here, unreadable. */
  signed: string;
  /** The signature checks and the archives are there at the manifest's sizes (with --verify: their SHA-256 read back too). */
  verified: boolean;
  location: string;
  problem: string | null;
}

/** Reads every archive of the entry back whole: the first that does not match, or null. */
async function readBackProblem(entry: CatalogEntry): Promise<string | null> {
  if (!entry.manifest || !entry.source) return "no manifest to check against";
  for (const file of manifestFiles(entry.manifest)) {
    const location = entry.source.location(file.archive);
    try {
      const digest = await streamDigest(await entry.source.open(file.archive, file.sizeBytes));
      if (digest.sha256 !== file.sha256 || digest.sizeBytes !== file.sizeBytes) return `${location} does not match its manifest's SHA-256`;
    } catch (error) {
      return `${location} could not be read back (${describedError(error)})`;
    }
  }
  return null;
}

async function listed(entry: CatalogEntry, readBack: boolean): Promise<ListedBackup> {
  let verified = entry.trust === "signed" && entry.archive === "present";
  let problem = entry.problem ?? null;
  if (verified && readBack) {
    problem = await readBackProblem(entry);
    verified = problem === null;
  }
  return {
    where: entry.where,
    id: entry.id,
    finishedAt: entry.finishedAt,
    sizeBytes: entry.sizeBytes,
    encrypted: entry.encrypted,
    signed: entry.trust,
    verified,
    location: entry.location,
    problem,
  };
}

/** Every backup in BACKUP_DIR and in the bucket, newest first; `readBack` hashes each archive whole. */
export async function backupListing({ readBack = false } = {}): Promise<ListedBackup[]> {
  const { s3, dir } = config().backups;
  const entries = [...(await localCatalog(dir, signingKeys())), ...(s3 ? await bucketCatalog(objectStore(s3), signingKeys()) : [])];
  entries.sort((a, b) => (b.startedAt ?? "").localeCompare(a.startedAt ?? "") || a.where.localeCompare(b.where));
  const rows: ListedBackup[] = [];
  for (const entry of entries) rows.push(await listed(entry, readBack));
  return rows;
}
