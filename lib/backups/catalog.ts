/**
 * Which backups exist, read from where they are kept rather than from the database that may
 * be lost: the manifests in BACKUP_DIR and in the bucket. Each entry says whether this
 * installation signed it and whether its archive is there at the manifest's size; a restore
 * reads an entry's archive through its source (in place, or downloaded into a workspace).
 */
import { readdir, readFile, stat } from "node:fs/promises";
import path from "node:path";
import { fileDigest, type Digest } from "./digest.js";
import { BackupIntegrityError, BackupNotFoundError } from "./errors.js";
import { manifestTrust, parsedManifest, type BackupManifest, type Trust } from "./manifest.js";
import type { ObjectStore } from "./object-store.js";
import type { Workspace } from "./private-files.js";

/** A manifest is a few kilobytes; anything much larger is not one. */
const MAX_MANIFEST_BYTES = 1024 * 1024;
const MANIFEST = /^(gap-[\w.-]+)\.json$/;

export interface ArchiveSource {
  /** Where the manifest is: a path, or an s3:// URL. */
  manifestLocation: string;
  manifestText(): Promise<string>;
  /** Where the manifest's archive is. */
  archiveLocation(manifest: BackupManifest): string;
  /** The archive as a local file with its digest: the file itself, or a download into `work`. */
  localArchive(manifest: BackupManifest, work: Workspace): Promise<{ path: string; digest: Digest }>;
  /** The archive's size and SHA-256 as stored, read whole and kept nowhere. */
  archiveDigest(manifest: BackupManifest): Promise<Digest>;
}

/** A manifest (`.json`) or an archive (`.dump`, `.dump.age`) on this machine, the other beside it. */
export function localSource(file: string): ArchiveSource {
  const manifestPath = path.resolve(file.replace(/\.dump(\.age)?$/, ".json"));
  const archivePath = (manifest: BackupManifest) => path.join(path.dirname(manifestPath), manifest.archive);
  const archiveDigest = (manifest: BackupManifest) =>
    fileDigest(archivePath(manifest)).catch((error: NodeJS.ErrnoException) => {
      throw new BackupIntegrityError(`the archive ${archivePath(manifest)} named by the manifest cannot be read (${error.code ?? error.message})`);
    });
  return {
    manifestLocation: manifestPath,
    async manifestText() {
      const size = await stat(manifestPath).then((s) => s.size, () => 0);
      if (size > MAX_MANIFEST_BYTES) throw new BackupIntegrityError(`${manifestPath} is not a backup manifest: larger than ${MAX_MANIFEST_BYTES} bytes`);
      return readFile(manifestPath, "utf8").catch((error: NodeJS.ErrnoException) => {
        throw new BackupIntegrityError(`cannot read the manifest ${manifestPath} (${error.code ?? error.message})`);
      });
    },
    archiveLocation: archivePath,
    localArchive: async (manifest) => ({ path: archivePath(manifest), digest: await archiveDigest(manifest) }),
    archiveDigest,
  };
}

/** A manifest in the bucket, its archive beside it. */
export function bucketSource(store: ObjectStore, manifestKey: string): ArchiveSource {
  const archiveKey = (manifest: BackupManifest) => `${path.posix.dirname(manifestKey)}/${manifest.archive}`;
  return {
    manifestLocation: store.location(manifestKey),
    manifestText: () => store.text(manifestKey, MAX_MANIFEST_BYTES),
    archiveLocation: (manifest) => store.location(archiveKey(manifest)),
    async localArchive(manifest, work) {
      const digest = await store.download(archiveKey(manifest), await work.create(manifest.archive));
      return { path: work.file(manifest.archive), digest };
    },
    archiveDigest: (manifest) => store.digest(archiveKey(manifest)),
  };
}

export interface CatalogEntry {
  where: "local" | "bucket";
  /** The backup's id in ops.backups of the installation that took it. */
  id: string | null;
  name: string;
  finishedAt: string | null;
  sizeBytes: number | null;
  encrypted: boolean | null;
  trust: Trust | "unreadable";
  /** The archive the manifest names: there at the manifest's size, missing, or of another size. */
  archive: "present" | "missing" | "size differs" | "unknown";
  manifest: BackupManifest | null;
  source: ArchiveSource;
  problem?: string;
}

async function entryOf(
  where: CatalogEntry["where"],
  name: string,
  source: ArchiveSource,
  signingKey: string | undefined,
  archiveSize: (manifest: BackupManifest) => Promise<number | undefined>,
): Promise<CatalogEntry> {
  let manifest: BackupManifest;
  try {
    manifest = parsedManifest(await source.manifestText(), source.manifestLocation);
  } catch (error) {
    const problem = error instanceof Error ? error.message : String(error);
    return { where, id: null, name, finishedAt: null, sizeBytes: null, encrypted: null, trust: "unreadable", archive: "unknown", manifest: null, source, problem };
  }
  const size = await archiveSize(manifest);
  return {
    where,
    id: manifest.backupId,
    name,
    finishedAt: manifest.finishedAt,
    sizeBytes: manifest.sizeBytes,
    encrypted: manifest.encryption !== null,
    trust: manifestTrust(manifest, signingKey),
    archive: size === undefined ? "missing" : size === manifest.sizeBytes ? "present" : "size differs",
    manifest,
    source,
  };
}

const newestFirst = (a: CatalogEntry, b: CatalogEntry) => (b.finishedAt ?? "").localeCompare(a.finishedAt ?? "") || a.name.localeCompare(b.name);

/** The backups in `dir`, newest first. A folder that does not exist holds none. */
export async function localCatalog(dir: string, signingKey: string | undefined): Promise<CatalogEntry[]> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const entries = await Promise.all(
    names.flatMap((file) => {
      const name = MANIFEST.exec(file)?.[1];
      if (!name) return [];
      const source = localSource(path.join(dir, file));
      const archiveSize = (manifest: BackupManifest) => stat(path.join(dir, manifest.archive)).then((s) => s.size, () => undefined);
      return [entryOf("local", name, source, signingKey, archiveSize)];
    }),
  );
  return entries.sort(newestFirst);
}

/** Manifests read from the bucket at once: enough to hide the latency, few enough for any store's rate limits. */
const MANIFEST_READS_IN_FLIGHT = 8;

/** The backups under the bucket's prefix, newest first: the bucket's listing is the catalog. */
export async function bucketCatalog(store: ObjectStore, signingKey: string | undefined): Promise<CatalogEntry[]> {
  const objects = await store.list();
  const sizes = new Map(objects.map((object) => [object.key, object.sizeBytes]));
  const manifests = objects.flatMap(({ key }) => {
    const relative = key.slice(store.prefix.length);
    const name = MANIFEST.exec(relative)?.[1];
    return name && !relative.includes("/") ? [{ key, name }] : [];
  });
  const entries: CatalogEntry[] = [];
  for (let start = 0; start < manifests.length; start += MANIFEST_READS_IN_FLIGHT) {
    const batch = manifests.slice(start, start + MANIFEST_READS_IN_FLIGHT).map(({ key, name }) =>
      entryOf("bucket", name, bucketSource(store, key), signingKey, async (manifest) => sizes.get(`${store.prefix}${manifest.archive}`)),
    );
    entries.push(...(await Promise.all(batch)));
  }
  return entries.sort(newestFirst);
}

/**
 * The newest entry a restore may take: signed here (or any, when unsigned ones are allowed),
 * with an archive beside it. One whose archive differs from its manifest is taken all the same,
 * so the restore refuses it loudly rather than fall back to an older backup unnoticed.
 */
export function newestRestorable(entries: readonly CatalogEntry[], where: string, { allowUnsigned = false } = {}): CatalogEntry {
  const usable = entries.find((entry) => entry.archive !== "missing" && entry.manifest && (entry.trust === "signed" || allowUnsigned));
  if (usable) return usable;
  const seen = entries.length
    ? ` (${entries.length} manifest(s) there, none signed by this installation's BACKUP_SIGNING_KEY with its archive beside it: check the key, or take the newest anyway with --allow-unsigned)`
    : " (it holds none)";
  throw new BackupNotFoundError(`no backup to restore in ${where}${seen}`);
}
