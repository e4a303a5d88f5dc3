/**
 * Taking a backup: pg_dump's custom format of the platform's schemas, streamed through age
 * encryption (when recipients are set) into BACKUP_DIR, beside a signed manifest with the
 * archive's SHA-256 and the row count of every table. The dump and the counts read one
 * exported snapshot, so they agree exactly however busy the database is. Nothing is written
 * under a final name until it is whole, and nothing is written in clear when encrypting.
 */
import path from "node:path";
import { PassThrough, Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { singleConnection } from "../db/pool.js";
import { databaseExtensions, tableRowCounts } from "./database.js";
import { digestStage } from "./digest.js";
import { AGE_SUFFIX, encryptingStage } from "./encryption.js";
import { MANIFEST_FORMAT, parsedManifest, signedManifestText, type BackupManifest, type ManifestBody } from "./manifest.js";
import { libpqConnection, pgTool, runPgTool } from "./pg-tools.js";
import { privateBackupDir, publish, workspace } from "./private-files.js";

/** The platform's own data: its tables, its ops history and its migration history. */
const BACKUP_SCHEMAS = ["public", "ops", "supabase_migrations"] as const;
export const BACKUP_APPLICATION_NAME = "gap-backup";

export interface BackupRequest {
  url: string;
  dir: string;
  /** The archive's base name; the files are `<name>.dump[.age]` and `<name>.json`. */
  name: string;
  backupId: string;
  signingKey: string;
  /** age recipients; none = an archive in clear. */
  recipients: readonly string[];
  binDir?: string;
}

export interface WrittenBackup {
  manifest: BackupManifest;
  /** The manifest's exact text, as written and as uploaded. */
  manifestText: string;
  archivePath: string;
  manifestPath: string;
}

export async function writeBackup({ url, dir, name, backupId, signingKey, recipients, binDir }: BackupRequest): Promise<WrittenBackup> {
  const root = await privateBackupDir(dir);
  const work = await workspace(root);
  const archive = `${name}.dump${recipients.length ? AGE_SUFFIX : ""}`;
  const client = singleConnection(url, BACKUP_APPLICATION_NAME);
  try {
    const body = await client.begin("isolation level repeatable read read only", async (tx): Promise<ManifestBody> => {
      // The snapshot must outlive the dump, however long it takes.
      await tx`select set_config('statement_timeout', '0', true), set_config('idle_in_transaction_session_timeout', '0', true)`;
      const [info] = await tx<{ snapshot: string; database: string; serverVersion: string; major: number }[]>`
        select pg_export_snapshot() as snapshot, current_database() as database,
          current_setting('server_version') as "serverVersion", (current_setting('server_version_num')::int / 10000) as major`;
      if (!info) throw new Error("the server returned no snapshot");
      const schemas = (await tx<{ name: string }[]>`
        select nspname as name from pg_namespace where nspname in ${tx([...BACKUP_SCHEMAS])} order by nspname`).map((row) => row.name);
      const extensions = await databaseExtensions(tx, schemas);
      const tables = await tableRowCounts(tx, schemas);
      const tool = pgTool("pg_dump", info.major, binDir);
      const connection = libpqConnection(url, BACKUP_APPLICATION_NAME);
      const startedAt = new Date().toISOString();
      const dumped = new PassThrough();
      const stored = digestStage();
      const stages = recipients.length ? [await encryptingStage(recipients)] : [];
      const file = await work.create(archive);
      await Promise.all([
        runPgTool(
          tool,
          [
            "--format=custom",
            "--no-owner",
            "--no-privileges",
            `--snapshot=${info.snapshot}`,
            "--lock-wait-timeout=30000",
            ...schemas.flatMap((schema) => ["--schema", schema]),
            ...connection.args,
          ],
          connection.env,
          { stdout: dumped },
        ),
        pipeline([dumped, ...stages, stored.stage, file]),
      ]);
      const { sizeBytes, sha256 } = stored.digest();
      return {
        format: MANIFEST_FORMAT,
        backupId,
        archive,
        database: info.database,
        serverVersion: info.serverVersion,
        pgDumpMajor: tool.major,
        schemas,
        extensions: [...extensions],
        tables,
        startedAt,
        finishedAt: new Date().toISOString(),
        sizeBytes,
        sha256,
        encryption: recipients.length ? { format: "age", recipients: [...recipients] } : null,
      };
    });
    const manifestText = signedManifestText(body, signingKey);
    await pipeline(Readable.from([manifestText]), await work.create(`${name}.json`));
    const archivePath = path.join(root, archive);
    const manifestPath = path.join(root, `${name}.json`);
    await publish(work.file(archive), archivePath);
    await publish(work.file(`${name}.json`), manifestPath);
    return { manifest: parsedManifest(manifestText, manifestPath), manifestText, archivePath, manifestPath };
  } finally {
    await Promise.all([client.end(), work.remove()]);
  }
}
