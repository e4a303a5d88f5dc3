/**
 * Taking a backup: pg_dump's custom format of the platform's schemas, uncompressed and piped
 * through zstd and age encryption (when recipients are set) into BACKUP_DIR, beside a signed
 * manifest with each archive's SHA-256 and the row count of every table. Where the database
 * has Supabase Auth, the data of the tables a sign-in needs goes into a second archive. The
 * dumps and the counts read one exported snapshot, so they agree exactly however busy the
 * database is. Nothing is written under a final name until it is whole, and nothing is written
 * in clear when encrypting.
 */
import path from "node:path";
import { PassThrough, Readable, type Duplex, type Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { singleConnection, type Sql } from "../db/pool.js";
import { authFigures, authTables } from "./auth.js";
import { compressingStage } from "./compression.js";
import { databaseExtensions, tableRowCounts } from "./database.js";
import { digestStage, type Digest } from "./digest.js";
import { encryptingStage } from "./encryption.js";
import { MANIFEST_FORMAT, parsedManifest, signedManifestText, type BackupManifest, type ManifestBody } from "./manifest.js";
import { archiveFileName } from "./names.js";
import { libpqConnection, pgTool, runPgTool, type PgTool } from "./pg-tools.js";
import { privateBackupDir, publish, workspace, type Workspace } from "./private-files.js";

/** The platform's own data: its tables, its ops history and its migration history. */
const BACKUP_SCHEMAS = ["public", "ops", "supabase_migrations"] as const;
export const BACKUP_APPLICATION_NAME = "gap-backup";

export interface BackupRequest {
  url: string;
  dir: string;
  /** The backup's name (names.ts): the files are `<name>.dump.zst[.age]`, `<name>.auth.dump.zst[.age]` and `<name>.json`. */
  name: string;
  backupId: string;
  signingKey: string;
  /** age recipients; none = archives in clear. */
  recipients: readonly string[];
  binDir?: string;
}

export interface WrittenBackup {
  manifest: BackupManifest;
  /** The manifest's exact text, as written and as uploaded. */
  manifestText: string;
  /** Every archive written, the platform's first. */
  archivePaths: string[];
  manifestPath: string;
}

interface Snapshot {
  snapshot: string;
  database: string;
  serverVersion: string;
  major: number;
}

/** The bytes on disk of the schemas' tables with their indexes and TOAST: what a restore writes. */
async function schemaBytes(sql: Sql, schemas: readonly string[]): Promise<number> {
  const [row] = await sql<{ bytes: number }[]>`
    select coalesce(sum(pg_total_relation_size(c.oid)), 0)::float8 as bytes
    from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where c.relkind in ('r', 'p', 'm') and n.nspname in ${sql(schemas as string[])}`;
  return row?.bytes ?? 0;
}

/** pg_dump (uncompressed: zstd is faster than its gzip) through zstd and age into a new file of the workspace. */
async function dumpInto(
  work: Workspace,
  file: string,
  tool: PgTool,
  args: string[],
  env: Record<string, string>,
  recipients: readonly string[],
): Promise<Digest> {
  const dumped = new PassThrough();
  const stored = digestStage();
  const stages: Array<Transform | Duplex> = [await compressingStage()];
  if (recipients.length) stages.push(await encryptingStage(recipients));
  const sink = await work.create(file);
  await Promise.all([
    runPgTool(tool, ["--format=custom", "--compress=0", ...args], env, { stdout: dumped }),
    pipeline([dumped, ...stages, stored.stage, sink]),
  ]);
  return stored.digest();
}

export async function writeBackup({ url, dir, name, backupId, signingKey, recipients, binDir }: BackupRequest): Promise<WrittenBackup> {
  const root = await privateBackupDir(dir);
  const work = await workspace(root);
  const encrypted = recipients.length > 0;
  const archive = archiveFileName(name, "platform", { compressed: true, encrypted });
  const authArchive = archiveFileName(name, "auth", { compressed: true, encrypted });
  const client = singleConnection(url, BACKUP_APPLICATION_NAME);
  try {
    const body = await client.begin("isolation level repeatable read read only", async (tx): Promise<ManifestBody> => {
      // The snapshot must outlive the dumps, however long they take.
      await tx`select set_config('statement_timeout', '0', true), set_config('idle_in_transaction_session_timeout', '0', true)`;
      const [info] = await tx<Snapshot[]>`
        select pg_export_snapshot() as snapshot, current_database() as database,
          current_setting('server_version') as "serverVersion", (current_setting('server_version_num')::int / 10000) as major`;
      if (!info) throw new Error("the server returned no snapshot");
      const schemas = (
        await tx<{ name: string }[]>`
        select nspname as name from pg_namespace where nspname in ${tx([...BACKUP_SCHEMAS])} order by nspname`
      ).map((row) => row.name);
      const extensions = await databaseExtensions(tx, schemas);
      const tables = await tableRowCounts(tx, schemas);
      const databaseBytes = await schemaBytes(tx, schemas);
      const auth = await authTables(tx);
      const authCounts = auth.length ? await authFigures(tx, auth) : undefined;
      const tool = pgTool("pg_dump", info.major, binDir);
      const connection = libpqConnection(url, BACKUP_APPLICATION_NAME);
      const common = ["--no-owner", "--no-privileges", `--snapshot=${info.snapshot}`, "--lock-wait-timeout=30000", ...connection.args];
      const startedAt = new Date().toISOString();
      const platform = await dumpInto(work, archive, tool, [...schemas.flatMap((schema) => ["--schema", schema]), ...common], connection.env, recipients);
      // Data only, ordered by the foreign keys between them: the new project has the tables.
      const authDigest = authCounts
        ? await dumpInto(work, authArchive, tool, ["--data-only", ...auth.flatMap((table) => ["--table", table]), ...common], connection.env, recipients)
        : undefined;
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
        sizeBytes: platform.sizeBytes,
        sha256: platform.sha256,
        encryption: encrypted ? { format: "age", recipients: [...recipients] } : null,
        compression: "zstd",
        databaseBytes,
        auth: authCounts && authDigest ? { archive: authArchive, ...authDigest, ...authCounts } : null,
      };
    });
    const manifestText = signedManifestText(body, signingKey);
    await pipeline(Readable.from([manifestText]), await work.create(`${name}.json`));
    const archives = body.auth ? [archive, body.auth.archive] : [archive];
    for (const file of archives) await publish(work.file(file), path.join(root, file));
    const manifestPath = path.join(root, `${name}.json`);
    await publish(work.file(`${name}.json`), manifestPath);
    return { manifest: parsedManifest(manifestText, manifestPath), manifestText, archivePaths: archives.map((file) => path.join(root, file)), manifestPath };
  } finally {
    await Promise.all([client.end(), work.remove()]);
  }
}
