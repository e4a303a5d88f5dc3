/**
 * Which backups exist, read from where they are kept rather than from the database that may
 * be lost: the manifests and archives in BACKUP_DIR and in the bucket. Every backup found is an
 * entry, placed in time by its name even when its manifest is unreadable or gone, and says
 * whether one of our keys signed it and whether its archives are there at the manifest's
 * sizes. `latest` is the newest entry: when it cannot be restored, a restore refuses and says
 * why, never quietly taking an older one.
 */
import { readdir, stat } from "node:fs/promises";
import path from "node:path";
import type { Readable } from "node:stream";
import { BackupIntegrityError, BackupNotFoundError, BackupUntrustedError } from "./errors.js";
import { manifestFiles, manifestTrust, parsedManifest, untrustedReason, type BackupManifest, type SigningKeys, type Trust } from "./manifest.js";
import { backupNameOf, isArchive, isPlatformArchive, manifestName, manifestPathOf, parsedBackupName } from "./names.js";
import type { ObjectStore } from "./object-store.js";
import { regularFileStream, regularFileText } from "./private-files.js";
import { describedError } from "../errors.js";

/** A manifest is a few kilobytes; anything much larger is not one. */
const MAX_MANIFEST_BYTES = 1024 * 1024;

export interface ArchiveSource {
  /** Where the manifest is: a path, or an s3:// URL. */
  manifestLocation: string;
  manifestText(): Promise<string>;
  /** Where one of the backup's archives is. */
  location(archive: string): string;
  /** The archive's size as stored (a stat, the listing, a HEAD), without reading it; undefined when it is not there. */
  storedSize(archive: string): Promise<number | undefined>;
  /** The archive's bytes as stored, at most `maxBytes` + 1 of them. */
  open(archive: string, maxBytes: number): Promise<Readable>;
}

const codeOf = (error: unknown) => (error as NodeJS.ErrnoException).code ?? describedError(error);

/** A manifest (`.json`) or one of its archives on this machine, the others beside it. */
export function localSource(file: string): ArchiveSource {
  const absolute = path.resolve(file);
  const manifestPath = isArchive(absolute) ? manifestPathOf(absolute) : absolute;
  const archivePath = (archive: string) => path.join(path.dirname(manifestPath), archive);
  return {
    manifestLocation: manifestPath,
    manifestText: () =>
      regularFileText(manifestPath, MAX_MANIFEST_BYTES).catch((error: unknown) => {
        if (error instanceof BackupIntegrityError) throw new BackupIntegrityError(`${error.message}: not a backup manifest`);
        throw new BackupIntegrityError(`cannot read the manifest ${manifestPath} (${codeOf(error)})`);
      }),
    location: archivePath,
    storedSize: (archive) =>
      stat(archivePath(archive)).then(
        (info) => (info.isFile() ? info.size : undefined),
        () => undefined,
      ),
    open: (archive, maxBytes) =>
      regularFileStream(archivePath(archive), { maxBytes }).catch((error: unknown) => {
        if (error instanceof BackupIntegrityError) throw error;
        throw new BackupIntegrityError(`the archive ${archivePath(archive)} named by the manifest cannot be read (${codeOf(error)})`);
      }),
  };
}

/** A manifest in the bucket, its archives beside it; `listed` holds sizes already known from a listing. */
export function bucketSource(store: ObjectStore, manifestKey: string, listed?: ReadonlyMap<string, number>): ArchiveSource {
  const key = (archive: string) => `${path.posix.dirname(manifestKey)}/${archive}`;
  return {
    manifestLocation: store.location(manifestKey),
    manifestText: () => store.text(manifestKey, MAX_MANIFEST_BYTES),
    location: (archive) => store.location(key(archive)),
    storedSize: async (archive) => (listed ? listed.get(key(archive)) : store.size(key(archive))),
    open: (archive, maxBytes) => store.open(key(archive), maxBytes),
  };
}

export type ArchiveState = "present" | "missing" | "size differs" | "unknown";

export interface CatalogEntry {
  where: "local" | "bucket";
  /** gap-<time>-<id> */
  name: string;
  /** The backup's id in ops.backups of the installation that took it: the manifest's, else the name's. */
  id: string | null;
  /** When the run started, from its name: what orders every entry, readable manifest or not. */
  startedAt: string | null;
  finishedAt: string | null;
  /** Of every archive, as the manifest gives them. */
  sizeBytes: number | null;
  encrypted: boolean | null;
  trust: Trust | "unreadable";
  /** The id of the key the manifest is signed by. */
  keyId: string | null;
  /** The archives the manifest names: all there at their sizes, one missing, or one of another size. */
  archive: ArchiveState;
  manifest: BackupManifest | null;
  /** Null for archives found without a manifest. */
  source: ArchiveSource | null;
  /** The platform archive's location, else the manifest's, else the orphaned archive's. */
  location: string;
  /** Why the entry cannot be restored as it stands; absent when it can. */
  problem?: string;
}

interface Found {
  where: CatalogEntry["where"];
  name: string;
  /** Undefined when only archives of this name were found. */
  source: ArchiveSource | undefined;
  /** Where an archive without a manifest is, for the listing. */
  orphanLocation: string;
}

function baseEntry(found: Found): Pick<CatalogEntry, "where" | "name" | "id" | "startedAt"> {
  const parsed = parsedBackupName(found.name);
  return { where: found.where, name: found.name, id: parsed?.id ?? null, startedAt: parsed?.startedAt.toISOString() ?? null };
}

async function archiveState(manifest: BackupManifest, source: ArchiveSource): Promise<{ state: ArchiveState; problem?: string }> {
  for (const file of manifestFiles(manifest)) {
    const size = await source.storedSize(file.archive);
    const what = file.part === "auth" ? "its auth archive" : "its archive";
    if (size === undefined) return { state: "missing", problem: `${what} ${source.location(file.archive)} is missing` };
    if (size !== file.sizeBytes) {
      return { state: "size differs", problem: `${what} ${source.location(file.archive)} is ${size} bytes where the manifest says ${file.sizeBytes}` };
    }
  }
  return { state: "present" };
}

async function entryOf(found: Found, keys: SigningKeys): Promise<CatalogEntry> {
  const base = baseEntry(found);
  const empty = { finishedAt: null, sizeBytes: null, encrypted: null, keyId: null, manifest: null };
  if (!found.source) {
    return { ...base, ...empty, trust: "unreadable", archive: "unknown", source: null, location: found.orphanLocation, problem: "its manifest is missing" };
  }
  let manifest: BackupManifest;
  try {
    manifest = parsedManifest(await found.source.manifestText(), found.source.manifestLocation);
  } catch (error) {
    const problem = describedError(error);
    return { ...base, ...empty, trust: "unreadable", archive: "unknown", source: found.source, location: found.source.manifestLocation, problem };
  }
  const trust = manifestTrust(manifest, keys);
  const { state, problem } = await archiveState(manifest, found.source);
  const files = manifestFiles(manifest);
  return {
    ...base,
    id: manifest.backupId,
    finishedAt: manifest.finishedAt,
    sizeBytes: files.reduce((sum, file) => sum + file.sizeBytes, 0),
    encrypted: manifest.encryption !== null,
    trust,
    keyId: manifest.signature?.keyId ?? null,
    archive: state,
    manifest,
    source: found.source,
    location: found.source.location(manifest.archive),
    ...(trust !== "signed" ? { problem: untrustedReason(manifest, trust, keys) } : problem ? { problem } : {}),
  };
}

/** Newest first by the time in the name (then the id); names of no known form last. */
const newestFirst = (a: CatalogEntry, b: CatalogEntry) =>
  (b.startedAt ?? "").localeCompare(a.startedAt ?? "") || Number(b.id ?? -1) - Number(a.id ?? -1) || a.name.localeCompare(b.name);

/** Every backup named by `files` (manifests and archives), manifest or not. */
function foundBackups(files: string[], where: Found["where"], sourceOf: (manifest: string) => ArchiveSource, locate: (file: string) => string): Found[] {
  const byName = new Map<string, Found>();
  for (const file of files) {
    const name = backupNameOf(file);
    if (!name) continue;
    const manifest = manifestName(file) !== undefined;
    if (!manifest && !isPlatformArchive(file)) continue;
    const found = byName.get(name) ?? { where, name, source: undefined, orphanLocation: locate(file) };
    if (manifest) found.source = sourceOf(file);
    byName.set(name, found);
  }
  return [...byName.values()];
}

/** The backups in `dir`, newest first. A folder that does not exist holds none. */
export async function localCatalog(dir: string, keys: SigningKeys): Promise<CatalogEntry[]> {
  const files = await readdir(dir).catch(() => [] as string[]);
  const found = foundBackups(
    files,
    "local",
    (file) => localSource(path.join(dir, file)),
    (file) => path.join(dir, file),
  );
  return (await Promise.all(found.map((backup) => entryOf(backup, keys)))).sort(newestFirst);
}

/** Manifests read from the bucket at once: enough to hide the latency, few enough for any store's rate limits. */
const MANIFEST_READS_IN_FLIGHT = 8;

/** The backups under the bucket's prefix, newest first: the bucket's listing is the catalog. */
export async function bucketCatalog(store: ObjectStore, keys: SigningKeys): Promise<CatalogEntry[]> {
  const objects = (await store.list()).filter(({ key }) => !key.slice(store.prefix.length).includes("/"));
  const sizes = new Map(objects.map((object) => [object.key, object.sizeBytes]));
  const found = foundBackups(
    objects.map((object) => object.key),
    "bucket",
    (key) => bucketSource(store, key, sizes),
    (key) => store.location(key),
  );
  const entries: CatalogEntry[] = [];
  for (let start = 0; start < found.length; start += MANIFEST_READS_IN_FLIGHT) {
    entries.push(...(await Promise.all(found.slice(start, start + MANIFEST_READS_IN_FLIGHT).map((backup) => entryOf(backup, keys)))));
  }
  return entries.sort(newestFirst);
}

/** An entry a restore can take as it stands (trust aside when unsigned ones are allowed). */
export function restorable(entry: CatalogEntry, { allowUnsigned = false } = {}): boolean {
  return entry.manifest !== null && entry.source !== null && entry.archive === "present" && (entry.trust === "signed" || allowUnsigned);
}

/** "2026-12-05T03:00:12Z, 1.2 days ago": a backup's time and age as a restore prints them. */
export function timeAndAge(at: string, now: Date = new Date()): string {
  const seconds = Math.max(0, (now.getTime() - Date.parse(at)) / 1000);
  const age =
    seconds < 3600 ? `${Math.round(seconds / 60)} min` : seconds < 172_800 ? `${(seconds / 3600).toFixed(1)} h` : `${(seconds / 86_400).toFixed(1)} days`;
  return `${new Date(at).toISOString().replace(/\.\d+Z$/, "Z")}, ${age} old`;
}

/** The newest success the installation's own record knows of, when it could be read. */
export interface RecordedNewest {
  id: string;
  finishedAt: string;
}

function olderHint(entries: readonly CatalogEntry[], allowUnsigned: boolean): string {
  const older = entries.slice(1).find((entry) => restorable(entry, { allowUnsigned }));
  return older?.id
    ? `The newest restorable one before it is backup ${older.id} (taken ${timeAndAge(older.finishedAt ?? older.startedAt ?? "")}): name it with --backup ${older.id} to restore it`
    : "No older backup there is restorable either";
}

/**
 * `latest`: the newest backup there is, by the bucket's (or the folder's) own names and, when
 * it could be read, by ops.backups. When that one cannot be restored (its archive missing or of
 * another size, its manifest unreadable or not signed by our keys), this refuses and names it
 * and why: an older backup is restored only when asked for by id.
 */
export function latestEntry(
  entries: readonly CatalogEntry[],
  where: string,
  { allowUnsigned = false, recorded }: { allowUnsigned?: boolean; recorded?: RecordedNewest } = {},
): CatalogEntry {
  const newest = entries[0];
  if (recorded && !entries.some((entry) => entry.id === recorded.id) && (!newest?.startedAt || newest.startedAt < recorded.finishedAt)) {
    throw new BackupIntegrityError(
      `backup ${recorded.id}, the newest success ops.backups records (finished ${timeAndAge(recorded.finishedAt)}), is not in ${where}: ` +
        `its manifest and archive are gone. ${olderHint([newest as CatalogEntry, ...entries], allowUnsigned)}`,
    );
  }
  if (!newest) throw new BackupNotFoundError(`no backup to restore in ${where} (it holds none)`);
  if (restorable(newest, { allowUnsigned })) return newest;
  const label = `${newest.name}${newest.startedAt ? ` (started ${timeAndAge(newest.startedAt)})` : ""}`;
  const trustProblem = newest.manifest !== null && newest.archive === "present" && newest.trust !== "signed";
  const message = `the newest backup in ${where}, ${label}, cannot be restored: ${newest.problem ?? "its archive is not there"}. ${olderHint(entries, allowUnsigned)}`;
  throw trustProblem
    ? new BackupUntrustedError(`${message}; or, if you know where it came from, take it anyway with --allow-unsigned`)
    : new BackupIntegrityError(message);
}
