/**
 * Finding backups without the database: BACKUP_DIR's manifests and the bucket's listing are
 * the catalog. What `npm run db:backups` lists, and what `latest`, `--backup <id>` and an
 * `s3://` URL mean to a restore or a drill.
 */
import { bucketCatalog, bucketSource, localCatalog, localSource, newestRestorable, type ArchiveSource, type CatalogEntry } from "../lib/backups/catalog.js";
import { BackupNotFoundError } from "../lib/backups/errors.js";
import { objectStore, parsedS3Url } from "../lib/backups/object-store.js";
import { config, ConfigError } from "../lib/config.js";

function bucketSettings() {
  const { s3 } = config().backups;
  if (!s3) throw new ConfigError("Invalid configuration: BACKUP_S3_BUCKET (and the other BACKUP_S3_ settings) must be set to read from a bucket");
  return s3;
}

/** An archive or manifest given by location: an `s3://bucket/key` URL, or a path on this machine. */
export function sourceOf(location: string): ArchiveSource {
  const object = parsedS3Url(location);
  if (!object) return localSource(location);
  const store = objectStore({ ...bucketSettings(), bucket: object.bucket });
  return bucketSource(store, object.key.replace(/\.dump(\.age)?$/, ".json"));
}

/** Where a restore or drill looks when not told: the bucket when one is set, else BACKUP_DIR. */
async function defaultCatalog(): Promise<{ entries: CatalogEntry[]; where: string }> {
  const { s3, dir, signingKey } = config().backups;
  if (s3) return { entries: await bucketCatalog(objectStore(s3), signingKey), where: `s3://${s3.bucket}/${s3.prefix}` };
  return { entries: await localCatalog(dir, signingKey), where: `BACKUP_DIR (${dir})` };
}

/** The newest backup a disaster would restore: signed by this installation, its archive present. */
export async function newestBackupSource({ allowUnsigned = false } = {}): Promise<ArchiveSource> {
  const { entries, where } = await defaultCatalog();
  return newestRestorable(entries, where, { allowUnsigned }).source;
}

/** The backup of id `id`: its copy here when there is one, else the bucket's. */
export async function backupSourceById(id: string): Promise<ArchiveSource> {
  const { s3, dir, signingKey } = config().backups;
  const local = await localCatalog(dir, signingKey);
  const remote = s3 ? await bucketCatalog(objectStore(s3), signingKey) : [];
  const matches = [...local, ...remote].filter((entry) => entry.id === id && entry.archive === "present");
  const best = matches.find((entry) => entry.trust === "signed") ?? matches[0];
  if (!best) throw new BackupNotFoundError(`no backup ${id} with its archive in BACKUP_DIR${s3 ? " or the bucket" : ""}`);
  return best.source;
}

export interface ListedBackup {
  where: "local" | "bucket";
  id: string | null;
  finishedAt: string | null;
  sizeBytes: number | null;
  encrypted: boolean | null;
  /** signed (by this installation's key), unsigned, other-key, bad-signature, no-key-here, unreadable. */
  signed: string;
  /** The signature checks and the archive is there at its manifest's size (with --verify: its SHA-256 read back too). */
  verified: boolean;
  location: string;
  problem: string | null;
}

async function listed(entry: CatalogEntry, readBack: boolean): Promise<ListedBackup> {
  let verified = entry.trust === "signed" && entry.archive === "present";
  let problem = entry.problem ?? (entry.archive === "present" || entry.archive === "unknown" ? null : `archive ${entry.archive}`);
  if (verified && readBack && entry.manifest) {
    const digest = await entry.source.archiveDigest(entry.manifest).catch(() => undefined);
    verified = digest?.sha256 === entry.manifest.sha256 && digest.sizeBytes === entry.manifest.sizeBytes;
    if (!verified) problem = "archive does not match its manifest's SHA-256";
  }
  return {
    where: entry.where,
    id: entry.id,
    finishedAt: entry.finishedAt,
    sizeBytes: entry.sizeBytes,
    encrypted: entry.encrypted,
    signed: entry.trust,
    verified,
    location: entry.manifest ? entry.source.archiveLocation(entry.manifest) : entry.source.manifestLocation,
    problem,
  };
}

/** Every backup in BACKUP_DIR and in the bucket, newest first; `readBack` hashes each archive whole. */
export async function backupListing({ readBack = false } = {}): Promise<ListedBackup[]> {
  const { s3, dir, signingKey } = config().backups;
  const entries = [...(await localCatalog(dir, signingKey)), ...(s3 ? await bucketCatalog(objectStore(s3), signingKey) : [])];
  const rows: ListedBackup[] = [];
  for (const entry of entries) rows.push(await listed(entry, readBack));
  return rows.sort((a, b) => (b.finishedAt ?? "").localeCompare(a.finishedAt ?? "") || a.where.localeCompare(b.where));
}
