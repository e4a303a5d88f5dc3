/**
 * Forward-only migrations from `supabase/migrations/` (the Supabase CLI layout), recorded
 * in the CLI's own table so `supabase db push` and this runner agree on what is applied.
 * Each file runs in its own transaction under an advisory lock: two runners at once apply
 * each migration once, a failing file leaves no trace, and a rerun is a no-op.
 */
import { readdir, readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import path from "node:path";
import { MigrationError } from "./errors.js";
import type { Pool } from "./pool.js";
import { describedError } from "../errors.js";

export const MIGRATIONS_DIR = fileURLToPath(new URL("../../supabase/migrations/", import.meta.url));

/** Any fixed number: the key of the advisory lock every migration runner takes. */
const MIGRATION_LOCK_KEY = 727_001;

const FILE_NAME = /^(\d{14})_([a-z0-9_]+)\.sql$/;

export interface MigrationFile {
  version: string;
  name: string;
  sql: string;
}

/** The migration files of `dir`, in version order; a misnamed `.sql` file is an error, not a skip. */
export async function migrationFiles(dir: string = MIGRATIONS_DIR): Promise<MigrationFile[]> {
  const names = (await readdir(dir)).filter((name) => name.endsWith(".sql")).sort();
  return Promise.all(
    names.map(async (fileName) => {
      const match = FILE_NAME.exec(fileName);
      if (!match?.[1] || !match[2]) {
        throw new MigrationError(`${fileName}: migration files are named <14-digit version>_<snake_case name>.sql`);
      }
      return { version: match[1], name: match[2], sql: await readFile(path.join(dir, fileName), "utf8") };
    }),
  );
}

async function ensureHistoryTable(sql: Pool): Promise<void> {
  await sql.begin(async (tx) => {
    await tx`select pg_advisory_xact_lock(${MIGRATION_LOCK_KEY})`;
    await tx`create schema if not exists supabase_migrations`;
    await tx`
      create table if not exists supabase_migrations.schema_migrations (
        version text primary key,
        statements text[],
        name text
      )`;
  });
}

/** Versions recorded as applied, in order. */
export async function appliedVersions(sql: Pool): Promise<string[]> {
  await ensureHistoryTable(sql);
  const rows = await sql<{ version: string }[]>`
    select version
    from supabase_migrations.schema_migrations
    order by version`;
  return rows.map((row) => row.version);
}

async function applied(sql: Pool, file: MigrationFile): Promise<boolean> {
  return sql.begin(async (tx) => {
    await tx`select pg_advisory_xact_lock(${MIGRATION_LOCK_KEY})`;
    const [done] = await tx`
      select 1 as done
      from supabase_migrations.schema_migrations
      where version = ${file.version}`;
    if (done) return false;
    try {
      // A migration file is trusted SQL from the repository, run as one multi-statement script.
      await tx.unsafe(file.sql).simple();
    } catch (error) {
      const reason = describedError(error);
      throw new MigrationError(`${file.version}_${file.name}.sql failed and was rolled back: ${reason}`, {
        cause: error,
      });
    }
    await tx`
      insert into supabase_migrations.schema_migrations (version, statements, name)
      values (${file.version}, array[${file.sql}::text], ${file.name})`;
    return true;
  });
}

export interface MigrateOptions {
  dir?: string;
  onApplied?: (file: MigrationFile) => void;
}

/** Applies every pending migration in order; returns the versions it applied (none on a rerun). */
export async function migrate(sql: Pool, { dir, onApplied }: MigrateOptions = {}): Promise<string[]> {
  const files = await migrationFiles(dir);
  const done = new Set(await appliedVersions(sql));
  const appliedNow: string[] = [];
  for (const file of files.filter((f) => !done.has(f.version))) {
    if (await applied(sql, file)) {
      appliedNow.push(file.version);
      onApplied?.(file);
    }
  }
  return appliedNow;
}
