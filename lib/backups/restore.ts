/**
 * Restoring a backup into an empty database. Everything that can refuse does so before the
 * target is touched: the manifest's signature, the archive's size and SHA-256 against it, the
 * age identity against the archive's header, the target's emptiness, and the extensions the
 * archive's objects need. Then pg_restore reads the archive (decrypted as it streams, never
 * written in clear) in one transaction, and every table's row count is checked after.
 */
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { singleConnection } from "../db/pool.js";
import type { ArchiveSource } from "./catalog.js";
import { existingSchemas, existingTables, serverMajor, tableRowCounts } from "./database.js";
import { BACKUP_APPLICATION_NAME } from "./dump.js";
import { decrypted } from "./encryption.js";
import { BackupIntegrityError, RestoreRefusedError } from "./errors.js";
import { createExtensions, extensionPlan, type ExtensionOutcome } from "./extensions.js";
import { parsedManifest, requireTrusted, type BackupManifest, type Trust } from "./manifest.js";
import { libpqConnection, pgTool, runPgTool } from "./pg-tools.js";
import { privateBackupDir, regularFileStream, workspace } from "./private-files.js";

export interface RestoreRequest {
  source: ArchiveSource;
  targetUrl: string;
  /** BACKUP_DIR: downloads and pg_restore's list are written in a private workspace there. */
  workDir: string;
  signingKey: string | undefined;
  identities: readonly string[];
  /** Take an archive this installation did not sign (whatever it holds runs in the target). */
  allowUnsigned?: boolean;
  binDir?: string;
}

export interface RestoreResult {
  manifest: BackupManifest;
  trust: Trust;
  /** Where the archive was read from. */
  archiveLocation: string;
  /** When the archive's data was read: the point it recovers to. */
  takenAt: string;
  tables: number;
  rows: number;
  seconds: number;
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

function checkDigest(manifest: BackupManifest, location: string, digest: { sizeBytes: number; sha256: string }): void {
  if (digest.sizeBytes !== manifest.sizeBytes || digest.sha256 !== manifest.sha256) {
    throw new BackupIntegrityError(
      `${location} does not match its manifest (${digest.sizeBytes} bytes, sha256 ${digest.sha256}; the manifest says ` +
        `${manifest.sizeBytes} bytes, sha256 ${manifest.sha256}): it is damaged or not the archive that was written`,
    );
  }
}

/** The manifest, checked: its signature (unless unsigned ones are allowed). */
async function trustedManifest(source: ArchiveSource, signingKey: string | undefined, allowUnsigned: boolean): Promise<{ manifest: BackupManifest; trust: Trust }> {
  const manifest = parsedManifest(await source.manifestText(), source.manifestLocation);
  return { manifest, trust: requireTrusted(manifest, signingKey, allowUnsigned, source.manifestLocation) };
}

/** The plaintext of the local archive: read as is, or decrypted as it streams. */
async function plaintext(manifest: BackupManifest, file: string, identities: readonly string[]): Promise<Readable> {
  const stored = await regularFileStream(file);
  return manifest.encryption ? decrypted(stored, identities) : stored;
}

/**
 * Checks an archive without restoring it: signature, size and SHA-256, and (when encrypted)
 * that the identities open it, by decrypting it whole: a damaged payload fails here too.
 */
export async function verifyArchive({ source, workDir, signingKey, identities, allowUnsigned = false }: Omit<RestoreRequest, "targetUrl" | "binDir">): Promise<VerifiedArchive> {
  const { manifest, trust } = await trustedManifest(source, signingKey, allowUnsigned);
  const work = await workspace(await privateBackupDir(workDir));
  try {
    const archiveLocation = source.archiveLocation(manifest);
    const archive = await source.localArchive(manifest, work);
    checkDigest(manifest, archiveLocation, archive.digest);
    if (manifest.encryption) {
      await pipeline(await plaintext(manifest, archive.path, identities), async function* (chunks) {
        for await (const _ of chunks) void _;
      });
    }
    return { manifest, trust, archiveLocation };
  } finally {
    await work.remove();
  }
}

export async function restoreBackup({ source, targetUrl, workDir, signingKey, identities, allowUnsigned = false, binDir }: RestoreRequest): Promise<RestoreResult> {
  const started = performance.now();
  const { manifest, trust } = await trustedManifest(source, signingKey, allowUnsigned);
  const work = await workspace(await privateBackupDir(workDir));
  const client = singleConnection(targetUrl, BACKUP_APPLICATION_NAME);
  try {
    const archiveLocation = source.archiveLocation(manifest);
    const archive = await source.localArchive(manifest, work);
    checkDigest(manifest, archiveLocation, archive.digest);
    // Opening the header proves the identity before the target is touched.
    if (manifest.encryption) (await plaintext(manifest, archive.path, identities)).destroy();
    const present = await existingTables(client, manifest.schemas);
    if (present.length) {
      throw new RestoreRefusedError(`the target database already has tables (${present.join(", ")}): restore into an empty database`);
    }
    const plan = await extensionPlan(client, manifest.extensions, { trusted: trust === "signed" });
    const tool = pgTool("pg_restore", manifest.pgDumpMajor, binDir, await serverMajor(client));
    const connection = libpqConnection(targetUrl, BACKUP_APPLICATION_NAME);
    const toc = await runPgTool(tool, ["--list"], connection.env, { stdin: await plaintext(manifest, archive.path, identities) });
    const list = await work.create("restore.list");
    await pipeline(Readable.from([restorableList(toc, await existingSchemas(client, manifest.schemas))]), list);
    const { outcomes, undo } = await createExtensions(client, plan);
    try {
      await runPgTool(
        tool,
        ["--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction", "--use-list", work.file("restore.list"), ...connection.args],
        connection.env,
        { stdin: await plaintext(manifest, archive.path, identities) },
      );
    } catch (error) {
      await undo();
      throw error;
    }
    const restored = await tableRowCounts(client, manifest.schemas);
    const differences = Object.entries(manifest.tables).filter(([table, rows]) => restored[table] !== rows);
    if (differences.length) {
      throw new BackupIntegrityError(
        `restored, but row counts differ from the manifest: ${differences.map(([t, rows]) => `${t} ${restored[t] ?? "missing"} (expected ${rows})`).join(", ")}`,
      );
    }
    return {
      manifest,
      trust,
      archiveLocation,
      takenAt: manifest.finishedAt,
      tables: Object.keys(restored).length,
      rows: Object.values(restored).reduce((sum, n) => sum + n, 0),
      seconds: Math.round((performance.now() - started) / 10) / 100,
      extensions: outcomes,
    };
  } finally {
    await Promise.all([client.end(), work.remove()]);
  }
}
