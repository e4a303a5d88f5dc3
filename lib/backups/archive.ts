/**
 * A backup archive: pg_dump's custom format of the platform's schemas, beside a JSON
 * manifest with its SHA-256, size and the row count of every table. The dump and the counts
 * read one exported snapshot, so they agree exactly however busy the database is; a restore
 * checks the checksum before it starts and the counts after it ends. The manifest travels
 * with the archive, so a restore needs nothing from the database that was lost.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import type postgres from "postgres";
import { z } from "zod";
import { singleConnection } from "../db/pool.js";
import { libpqConnection, pgTool, runPgTool } from "./pg-tools.js";

/** The platform's own data: its tables, its ops history and its migration history. */
export const BACKUP_SCHEMAS = ["public", "ops", "supabase_migrations"] as const;
const APPLICATION_NAME = "gap-backup";

const manifestSchema = z.object({
  format: z.literal("gap-backup/1"),
  archive: z.string().regex(/^[\w.-]+\.dump$/, "must be a file name ending in .dump"),
  database: z.string(),
  serverVersion: z.string(),
  schemas: z.array(z.string()),
  extensions: z.array(z.object({ name: z.string(), schema: z.string() })),
  tables: z.record(z.string(), z.number().int().nonnegative()),
  startedAt: z.string(),
  finishedAt: z.string(),
  sizeBytes: z.number().int().nonnegative(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
});

export type BackupManifest = z.infer<typeof manifestSchema>;

/** The archive does not match its manifest, or the manifest is not one. Nothing was restored. */
export class BackupIntegrityError extends Error {
  override name = "BackupIntegrityError";
}

/** The restore's target is not one it may write to. Nothing was restored. */
export class RestoreRefusedError extends Error {
  override name = "RestoreRefusedError";
}

type Client = postgres.Sql | postgres.TransactionSql;

/** Rows of every table in the schemas, counted in one statement (identifiers quoted by the server). */
async function tableRowCounts(sql: Client, schemas: readonly string[]): Promise<Record<string, number>> {
  const rows = await sql<{ name: string; count: number }[]>`
    select
      format('%s.%s', n.nspname, c.relname) as name,
      (xpath('/row/c/text()', query_to_xml(format('select count(*) as c from only %I.%I', n.nspname, c.relname), false, true, '')))[1]::text::float8 as count
    from pg_class c
    join pg_namespace n on n.oid = c.relnamespace
    where c.relkind = 'r' and n.nspname in ${sql(schemas as string[])}
    order by 1`;
  return Object.fromEntries(rows.map((row) => [row.name, row.count]));
}

async function sha256Of(file: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/** Writes through a partial name and renames, so a file under the final name is always whole. */
async function writtenWhole(file: string, contents: string): Promise<void> {
  await writeFile(`${file}.partial`, contents);
  await rename(`${file}.partial`, file);
}

export interface WrittenBackup {
  manifest: BackupManifest;
  archivePath: string;
  manifestPath: string;
}

/** Dumps the database at `url` into `dir` as `<name>.dump` and `<name>.json`. */
export async function writeBackup({ url, dir, name, binDir }: { url: string; dir: string; name: string; binDir?: string }): Promise<WrittenBackup> {
  await mkdir(dir, { recursive: true });
  const archivePath = path.resolve(dir, `${name}.dump`);
  const manifestPath = path.resolve(dir, `${name}.json`);
  const partial = `${archivePath}.partial`;
  const client = singleConnection(url, APPLICATION_NAME);
  try {
    const manifest = await client.begin("isolation level repeatable read read only", async (tx) => {
      // The snapshot must outlive the dump, however long it takes.
      await tx`select set_config('statement_timeout', '0', true), set_config('idle_in_transaction_session_timeout', '0', true)`;
      const [info] = await tx<{ snapshot: string; database: string; serverVersion: string; major: number }[]>`
        select pg_export_snapshot() as snapshot, current_database() as database,
          current_setting('server_version') as "serverVersion", (current_setting('server_version_num')::int / 10000) as major`;
      if (!info) throw new Error("the server returned no snapshot");
      const schemas = (await tx<{ name: string }[]>`
        select nspname as name from pg_namespace where nspname in ${tx([...BACKUP_SCHEMAS])} order by nspname`).map((row) => row.name);
      const extensions = await tx<{ name: string; schema: string }[]>`
        select e.extname as name, n.nspname as schema
        from pg_extension e join pg_namespace n on n.oid = e.extnamespace
        where e.extname <> 'plpgsql'
        order by e.extname`;
      const tables = await tableRowCounts(tx, schemas);
      const tool = pgTool("pg_dump", info.major, binDir);
      const connection = libpqConnection(url, APPLICATION_NAME);
      const startedAt = new Date().toISOString();
      await runPgTool(
        tool,
        [
          "--format=custom",
          "--no-owner",
          "--no-privileges",
          `--snapshot=${info.snapshot}`,
          "--lock-wait-timeout=30000",
          ...schemas.flatMap((schema) => ["--schema", schema]),
          "--file", partial,
          ...connection.args,
        ],
        connection.env,
      );
      const { size } = await stat(partial);
      return manifestSchema.parse({
        format: "gap-backup/1",
        archive: path.basename(archivePath),
        database: info.database,
        serverVersion: info.serverVersion,
        schemas,
        extensions: [...extensions],
        tables,
        startedAt,
        finishedAt: new Date().toISOString(),
        sizeBytes: size,
        sha256: await sha256Of(partial),
      });
    });
    await rename(partial, archivePath);
    await writtenWhole(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`);
    return { manifest, archivePath, manifestPath };
  } catch (error) {
    await rm(partial, { force: true });
    throw error;
  } finally {
    await client.end();
  }
}

/** The manifest at `file` (or beside the archive `file`), after checking the archive against it. */
export async function verifiedBackup(file: string): Promise<WrittenBackup> {
  const manifestPath = file.endsWith(".dump") ? file.replace(/\.dump$/, ".json") : file;
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(manifestPath, "utf8"));
  } catch (error) {
    throw new BackupIntegrityError(`cannot read the manifest ${manifestPath}: ${error instanceof Error ? error.message : String(error)}`);
  }
  const result = manifestSchema.safeParse(parsed);
  if (!result.success) throw new BackupIntegrityError(`${manifestPath} is not a backup manifest: ${result.error.issues.map((i) => `${i.path.join(".")} ${i.message}`).join("; ")}`);
  const manifest = result.data;
  const archivePath = path.join(path.dirname(manifestPath), manifest.archive);
  const size = await stat(archivePath).then((s) => s.size).catch(() => undefined);
  if (size === undefined) throw new BackupIntegrityError(`the archive ${archivePath} named by the manifest is missing`);
  const sha256 = await sha256Of(archivePath);
  if (size !== manifest.sizeBytes || sha256 !== manifest.sha256) {
    throw new BackupIntegrityError(
      `${archivePath} does not match its manifest (${size} bytes, sha256 ${sha256}; the manifest says ${manifest.sizeBytes} bytes, sha256 ${manifest.sha256}): it is damaged or not the archive that was written`,
    );
  }
  return { manifest, archivePath, manifestPath };
}

export interface RestoreResult {
  /** When the archive's data was read: the point it recovers to. */
  takenAt: string;
  tables: number;
  rows: number;
  seconds: number;
  /** Extensions the archive's database had that the target cannot create. */
  missingExtensions: string[];
}

/** pg_restore's table of contents without the schemas the target has already (public, at least). */
function restorableList(toc: string, existingSchemas: readonly string[]): string {
  const existing = new Set(existingSchemas);
  return toc
    .split("\n")
    .filter((line) => {
      const schema = /^\d+; \d+ \d+ (?:SCHEMA - |COMMENT - SCHEMA )(\S+) /.exec(line)?.[1];
      return schema === undefined || !existing.has(schema);
    })
    .join("\n");
}

/**
 * Restores a verified archive into an empty database, in one transaction (all or nothing),
 * then checks every table's row count against the manifest.
 */
export async function restoreBackup({ file, targetUrl, binDir }: { file: string; targetUrl: string; binDir?: string }): Promise<RestoreResult> {
  const started = performance.now();
  const { manifest, archivePath } = await verifiedBackup(file);
  const client = singleConnection(targetUrl, APPLICATION_NAME);
  try {
    const existing = await client<{ name: string }[]>`
      select format('%s.%s', n.nspname, c.relname) as name
      from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where c.relkind in ('r', 'p') and n.nspname in ${client(manifest.schemas)}
      order by 1 limit 5`;
    if (existing.length) {
      throw new RestoreRefusedError(`the target database already has tables (${existing.map((r) => r.name).join(", ")}): restore into an empty database`);
    }
    const missingExtensions: string[] = [];
    for (const { name, schema } of manifest.extensions) {
      const [offered] = await client`select 1 as offered from pg_available_extensions where name = ${name}`;
      if (!offered) {
        missingExtensions.push(name);
        continue;
      }
      await client`create schema if not exists ${client(schema)}`;
      await client`create extension if not exists ${client(name)} with schema ${client(schema)}`;
    }
    const [server] = await client<{ major: number }[]>`select (current_setting('server_version_num')::int / 10000) as major`;
    const tool = pgTool("pg_restore", server?.major ?? 0, binDir);
    const connection = libpqConnection(targetUrl, APPLICATION_NAME);
    const listPath = `${archivePath}.${process.pid}.list`;
    const existingSchemas = (await client<{ name: string }[]>`
      select nspname as name from pg_namespace where nspname in ${client(manifest.schemas)}`).map((row) => row.name);
    await writeFile(listPath, restorableList(await runPgTool(tool, ["--list", archivePath], connection.env), existingSchemas));
    try {
      await runPgTool(
        tool,
        ["--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction", "--use-list", listPath, ...connection.args, archivePath],
        connection.env,
      );
    } finally {
      await rm(listPath, { force: true });
    }
    const restored = await tableRowCounts(client, manifest.schemas);
    const differences = Object.entries(manifest.tables).filter(([table, rows]) => restored[table] !== rows);
    if (differences.length) {
      throw new BackupIntegrityError(
        `restored, but row counts differ from the manifest: ${differences.map(([t, rows]) => `${t} ${restored[t] ?? "missing"} (expected ${rows})`).join(", ")}`,
      );
    }
    return {
      takenAt: manifest.finishedAt,
      tables: Object.keys(restored).length,
      rows: Object.values(restored).reduce((sum, n) => sum + n, 0),
      seconds: Math.round((performance.now() - started) / 10) / 100,
      missingExtensions,
    };
  } finally {
    await client.end();
  }
}
