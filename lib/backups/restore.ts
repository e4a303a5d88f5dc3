/**
 * Restoring a backup into an empty database. Everything that can refuse does so before the
 * target is touched: the manifest's signature, each archive's stored size against the
 * manifest's (an object of another size is never read), the age identity against the
 * archive's header, the target's emptiness (and its Auth's), and the extensions the archive's
 * objects need. Then pg_restore reads the archive as it streams from the bucket or the disk,
 * decrypted and decompressed on the way and never written in clear, in one transaction that
 * cannot commit before the whole archive has proved its SHA-256 (digest.ts). Afterwards every
 * table's row count is checked, the auth rows against the manifest, and the database analyzed.
 */
import { PassThrough, Readable, Writable, type Duplex } from "node:stream";
import { pipeline } from "node:stream/promises";
import { singleConnection, type Pool } from "../db/pool.js";
import { authDifferences, authPlan, removeRestoredAuth, type AuthPlan } from "./auth.js";
import type { ArchiveSource } from "./catalog.js";
import { decompressingStage } from "./compression.js";
import { existingObjects, existingSchemas, serverMajor, tableRowCounts } from "./database.js";
import { verifyingStage } from "./digest.js";
import { BACKUP_APPLICATION_NAME } from "./dump.js";
import { decrypted } from "./encryption.js";
import { describedError } from "../errors.js";
import { BackupIntegrityError, BackupStoreError, BackupToolError, BackupUntrustedError, RestoreRefusedError } from "./errors.js";
import { createExtensions, extensionPlan, type ExtensionOutcome } from "./extensions.js";
import { manifestFiles, parsedManifest, requireTrusted, type BackupManifest, type ManifestFile, type SigningKeys, type Trust } from "./manifest.js";
import { libpqConnection, pgTool, runPgTool, type PgTool } from "./pg-tools.js";
import { privateBackupDir, workspace } from "./private-files.js";
import { secondsSince } from "../units.js";

export interface RestoreRequest {
  source: ArchiveSource;
  targetUrl: string;
  /** BACKUP_DIR: pg_restore's list is written in a private workspace there. */
  workDir: string;
  keys: SigningKeys;
  identities: readonly string[];
  /** Take an archive this installation did not sign (whatever it holds runs in the target). */
  allowUnsigned?: boolean;
  binDir?: string;
}

export type AuthOutcome = { status: "restored"; users: number; identities: Record<string, number> } | { status: "skipped"; reason: string };

export interface RestoreResult {
  manifest: BackupManifest;
  trust: Trust;
  /** Where the archive was read from. */
  archiveLocation: string;
  /** When the archive's data was read: the point it recovers to. */
  takenAt: string;
  tables: number;
  rows: number;
  /** Supabase Auth's rows: restored, skipped (and why), or null when the backup holds none. */
  auth: AuthOutcome | null;
  /** Of the whole restore, its checks and the ANALYZE after it. */
  seconds: number;
  /** The ANALYZE alone. */
  analyzeSeconds: number;
  extensions: ExtensionOutcome[];
}

export interface VerifiedArchive {
  manifest: BackupManifest;
  trust: Trust;
  archiveLocation: string;
}

/** pg_restore's table of contents without the schemas the target has already (public, at least). */
function restorableList(toc: string, existing: readonly string[]): string {
  const present = new Set(existing);
  return toc
    .split("\n")
    .filter((line) => {
      const schema = /^\d+; \d+ \d+ (?:SCHEMA - |COMMENT - SCHEMA )(\S+) /.exec(line)?.[1];
      return schema === undefined || !present.has(schema);
    })
    .join("\n");
}

/** The manifest, checked: its signature (unless unsigned ones are allowed). */
async function trustedManifest(source: ArchiveSource, keys: SigningKeys, allowUnsigned: boolean): Promise<{ manifest: BackupManifest; trust: Trust }> {
  const manifest = parsedManifest(await source.manifestText(), source.manifestLocation);
  return { manifest, trust: requireTrusted(manifest, keys, allowUnsigned, source.manifestLocation) };
}

/** Refuses, before reading a byte of them, archives missing or stored at another size than the manifest's. */
async function requireStoredSizes(source: ArchiveSource, manifest: BackupManifest): Promise<void> {
  for (const file of manifestFiles(manifest)) {
    const size = await source.storedSize(file.archive);
    const location = source.location(file.archive);
    if (size === undefined) throw new BackupIntegrityError(`${location}, named by its manifest, is missing: nothing was restored`);
    if (size !== file.sizeBytes) {
      throw new BackupIntegrityError(
        `${location} is ${size} bytes where its manifest says ${file.sizeBytes}: it is not the archive that was written, and was not read`,
      );
    }
  }
}

/** `first` piped through `stages`; an error anywhere fails the last one (put in words by `named`), which is returned. */
function joined(
  first: Readable,
  stages: Duplex[],
  named: (error: unknown) => Error = (error) => (error instanceof Error ? error : new Error(String(error))),
): Readable {
  const last = stages.at(-1);
  if (!last) return first;
  pipeline([first, ...stages]).catch((error: unknown) => last.destroy(named(error)));
  return last;
}

/**
 * A failure inside the payload (past the header the identity was proved on) means the bytes
 * are not the ones the signed manifest describes, whichever stage noticed first: the checksum
 * at the end, age's authentication of a chunk, or zstd's frame checksum.
 */
function payloadFailure(location: string): (error: unknown) => Error {
  return (error) => {
    if (error instanceof BackupIntegrityError || error instanceof BackupUntrustedError || error instanceof BackupStoreError || error instanceof BackupToolError)
      return error;
    return new BackupIntegrityError(
      `${location} does not match its manifest: it failed to decrypt or decompress (${describedError(error)}); it is damaged or not the archive that was written`,
    );
  };
}

/**
 * The plaintext of one archive as it streams from its source: capped at and checked against
 * the manifest's size and SHA-256 (the end held back until it matches), decrypted, decompressed.
 */
async function plaintext(source: ArchiveSource, manifest: BackupManifest, file: ManifestFile, identities: readonly string[]): Promise<Readable> {
  const location = source.location(file.archive);
  const stored = await source.open(file.archive, file.sizeBytes);
  const checked = joined(stored, [verifyingStage(file, location)]);
  const clear = manifest.encryption ? await decrypted(checked, identities) : checked;
  const stages: Duplex[] = manifest.compression === "zstd" ? [await decompressingStage()] : [];
  return joined(clear, [...stages, new PassThrough()], payloadFailure(location));
}

/** Reads a stream to its end, keeping nothing: what proves an archive whole. */
async function drained(stream: Readable): Promise<void> {
  await pipeline(stream, new Writable({ write: (_chunk, _encoding, done) => done() }));
}

/**
 * Checks an archive without restoring it: signature, stored sizes, every byte against the
 * SHA-256, and that the identities open it and it decompresses whole.
 */

export async function verifyArchive({
  source,
  keys,
  identities,
  allowUnsigned = false,
}: Omit<RestoreRequest, "targetUrl" | "binDir" | "workDir">): Promise<VerifiedArchive> {
  const { manifest, trust } = await trustedManifest(source, keys, allowUnsigned);
  await requireStoredSizes(source, manifest);
  for (const file of manifestFiles(manifest)) await drained(await plaintext(source, manifest, file, identities));
  return { manifest, trust, archiveLocation: source.location(manifest.archive) };
}

interface Restoring {
  tool: PgTool;
  connection: { args: string[]; env: Record<string, string> };
  source: ArchiveSource;
  manifest: BackupManifest;
  identities: readonly string[];
}

/** pg_restore of one archive, streamed, in one transaction. */
async function pgRestore({ tool, connection, source, manifest, identities }: Restoring, file: ManifestFile, options: string[]): Promise<void> {
  await runPgTool(tool, ["--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction", ...options, ...connection.args], connection.env, {
    stdin: await plaintext(source, manifest, file, identities),
  });
}

/** What the target must be, checked before anything is written; throws RestoreRefusedError. */
async function requireEmptyTarget(client: Pool, manifest: BackupManifest): Promise<void> {
  const present = await existingObjects(client, manifest.schemas);
  if (present.length) {
    throw new RestoreRefusedError(`the target database already has objects in the restored schemas (${present.join(", ")}): restore into an empty database`);
  }
}

async function analyzed(client: Pool): Promise<number> {
  const started = performance.now();
  // Without statistics the planner guesses until autovacuum comes; a restore is not done before.
  await client`analyze`;
  return secondsSince(started);
}

export async function restoreBackup({ source, targetUrl, workDir, keys, identities, allowUnsigned = false, binDir }: RestoreRequest): Promise<RestoreResult> {
  const started = performance.now();
  const { manifest, trust } = await trustedManifest(source, keys, allowUnsigned);
  await requireStoredSizes(source, manifest);
  const [platformFile, authFile] = manifestFiles(manifest) as [ManifestFile, ManifestFile | undefined];
  const work = await workspace(await privateBackupDir(workDir));
  const client = singleConnection(targetUrl, BACKUP_APPLICATION_NAME);
  try {
    const tool = pgTool("pg_restore", manifest.pgDumpMajor, binDir, await serverMajor(client));
    const restoring: Restoring = { tool, connection: libpqConnection(targetUrl, BACKUP_APPLICATION_NAME), source, manifest, identities };
    // Reading the table of contents opens the archive's header: a wrong identity fails here, before the target is touched.
    const toc = await runPgTool(tool, ["--list"], restoring.connection.env, { stdin: await plaintext(source, manifest, platformFile, identities) });
    await requireEmptyTarget(client, manifest);
    const auth: AuthPlan | undefined = manifest.auth ? await authPlan(client, manifest.auth) : undefined;
    const plan = await extensionPlan(client, manifest.extensions, { trusted: trust === "signed" });
    const list = await work.create("restore.list");
    await pipeline(Readable.from([restorableList(toc, await existingSchemas(client, manifest.schemas))]), list);
    if (auth?.restore && authFile) await pgRestore(restoring, authFile, ["--data-only"]);
    // Not restored here (a drill's scratch database has no Auth), yet proven intact: a damaged one would fail the day it is needed.
    else if (authFile) await drained(await plaintext(source, manifest, authFile, identities));
    const { outcomes, undo } = await createExtensions(client, plan);
    try {
      await pgRestore(restoring, platformFile, ["--use-list", work.file("restore.list")]);
    } catch (error) {
      await undo();
      if (auth?.restore) await removeRestoredAuth(client, auth.tables);
      throw error;
    }
    const restored = await tableRowCounts(client, manifest.schemas);
    const differences = Object.entries(manifest.tables)
      .filter(([table, rows]) => restored[table] !== rows)
      .map(([table, rows]) => `${table} ${restored[table] ?? "missing"} (expected ${rows})`);
    if (auth?.restore && manifest.auth) differences.push(...(await authDifferences(client, manifest.auth)));
    if (differences.length) throw new BackupIntegrityError(`restored, but row counts differ from the manifest: ${differences.join(", ")}`);
    const analyzeSeconds = await analyzed(client);
    return {
      manifest,
      trust,
      archiveLocation: source.location(manifest.archive),
      takenAt: manifest.finishedAt,
      tables: Object.keys(restored).length,
      rows: Object.values(restored).reduce((sum, n) => sum + n, 0),
      auth:
        !manifest.auth || !auth
          ? null
          : auth.restore
            ? { status: "restored", users: manifest.auth.tables["auth.users"] ?? 0, identities: manifest.auth.identities }
            : { status: "skipped", reason: `${auth.reason}; its archive was read and is intact` },
      seconds: secondsSince(started),
      analyzeSeconds,
      extensions: outcomes,
    };
  } finally {
    await Promise.all([client.end(), work.remove()]);
  }
}
