/**
 * Supabase Auth's rows in a backup. The platform authorizes by the token's `sub`, which is
 * `users.id` and `auth.users.id`: a new project whose Auth has no rows gives every person a new
 * id when they sign in again, and every organization looks empty. So a backup of a database
 * with an `auth` schema also dumps the data (never the schema: a new project has its own) of
 * the tables a sign-in needs, as Supabase's own guide for moving a project does, and a restore
 * puts them back, same ids, into the new project's empty tables. Sessions, refresh tokens,
 * flows and the audit log are not carried: every token is void in a new project anyway.
 */
import type { Pool, Sql } from "../db/pool.js";
import { RestoreRefusedError } from "./errors.js";
import type { AuthPart } from "./manifest.js";

export const AUTH_SCHEMA = "auth";

/** What a sign-in needs, parents first: people, how they sign in (per provider), MFA, SSO. */
const AUTH_TABLES = ["users", "identities", "mfa_factors", "sso_providers", "sso_domains", "saml_providers"] as const;

/** The tables of AUTH_TABLES this database has, as `auth.<name>`, parents first; empty without an auth schema. */
export async function authTables(sql: Sql): Promise<string[]> {
  const rows = await sql<{ name: string }[]>`
    select c.relname as name
    from pg_class c
    join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = ${AUTH_SCHEMA} and c.relkind in ('r', 'p') and c.relname = any(${[...AUTH_TABLES]}::text[])`;
  const present = new Set(rows.map((row) => row.name));
  return AUTH_TABLES.filter((name) => present.has(name)).map((name) => `${AUTH_SCHEMA}.${name}`);
}

/** Rows of each `auth.<name>` table, in one statement (identifiers quoted by the server). */
async function authRowCounts(sql: Sql, tables: readonly string[]): Promise<Record<string, number>> {
  const names = tables.map((table) => table.slice(AUTH_SCHEMA.length + 1));
  const rows = await sql<{ name: string; count: number }[]>`
    select
      format('%s.%s', ${AUTH_SCHEMA}::text, t.name) as name,
      (xpath('/row/c/text()', query_to_xml(format('select count(*) as c from only %I.%I', ${AUTH_SCHEMA}::text, t.name), false, true, '')))[1]::text::float8 as count
    from unnest(${names}::text[]) with ordinality as t (name, position)
    order by t.position`;
  return Object.fromEntries(rows.map((row) => [row.name, row.count]));
}

async function identitiesByProvider(sql: Sql): Promise<Record<string, number>> {
  const rows = await sql<{ provider: string; count: number }[]>`
    select provider, count(*)::float8 as count from auth.identities group by provider order by provider`;
  return Object.fromEntries(rows.map((row) => [row.provider, row.count]));
}

/** The platform's users with no auth.users row (0 on a healthy project; a plain PostgreSQL has no auth). */
async function usersWithoutAuth(sql: Sql): Promise<number> {
  const [platform] = await sql<{ present: boolean }[]>`select to_regclass('public.users') is not null as present`;
  if (!platform?.present) return 0;
  const [row] = await sql<{ count: number }[]>`
    select count(*)::float8 as count from public.users u where not exists (select 1 from auth.users a where a.id = u.id)`;
  return row?.count ?? 0;
}

/** What the manifest records of the auth rows, read in the backup's snapshot. */
export async function authFigures(sql: Sql, tables: readonly string[]): Promise<Omit<AuthPart, "archive" | "sizeBytes" | "sha256">> {
  const identities = tables.includes(`${AUTH_SCHEMA}.identities`) ? await identitiesByProvider(sql) : {};
  return { tables: await authRowCounts(sql, tables), identities, usersWithoutAuth: await usersWithoutAuth(sql) };
}

export type AuthPlan = { restore: true; tables: string[] } | { restore: false; reason: string };

/**
 * Whether the target takes the backup's auth rows: a target without an `auth` schema (a plain
 * PostgreSQL, a drill's scratch database) is skipped with the reason; one with it must have
 * every table the backup holds rows of, and all of them empty, else nothing is touched.
 */
export async function authPlan(sql: Sql, part: AuthPart): Promise<AuthPlan> {
  const [schema] = await sql<{ present: boolean }[]>`select exists (select 1 from pg_namespace where nspname = ${AUTH_SCHEMA}) as present`;
  if (!schema?.present) return { restore: false, reason: "the target has no auth schema (it is not a Supabase project's database)" };
  const wanted = Object.keys(part.tables);
  const present = new Set(await authTables(sql));
  const missing = wanted.filter((table) => !present.has(table));
  if (missing.length) {
    throw new RestoreRefusedError(
      `the target's auth schema lacks ${missing.join(", ")}, which the backup holds rows of: restore into a Supabase project whose Auth is at least as new as the old one's`,
    );
  }
  const counts = await authRowCounts(sql, wanted);
  const occupied = Object.entries(counts).filter(([, rows]) => rows > 0);
  if (occupied.length) {
    throw new RestoreRefusedError(
      `the target's Auth already has rows (${occupied.map(([table, rows]) => `${table} ${rows}`).join(", ")}): restore into a new project nobody has signed up to, ` +
        "or delete those rows first; the backup's people keep their ids only in empty tables",
    );
  }
  return { restore: true, tables: wanted };
}

/** Deletes what a restore put into the (formerly empty) auth tables: children first. */
export async function removeRestoredAuth(sql: Pool, tables: readonly string[]): Promise<void> {
  await sql.begin(async (tx) => {
    for (const table of [...tables].reverse()) await tx`delete from ${tx(AUTH_SCHEMA)}.${tx(table.slice(AUTH_SCHEMA.length + 1))}`;
  });
}

/**
 * What differs between the restored auth rows and the manifest: each table's rows, the
 * identities per provider, and the platform's users without their auth.users row.
 */
export async function authDifferences(sql: Sql, part: AuthPart): Promise<string[]> {
  const restored = await authFigures(sql, Object.keys(part.tables));
  const differences: string[] = [];
  for (const [table, rows] of Object.entries(part.tables)) {
    if (restored.tables[table] !== rows) differences.push(`${table} ${restored.tables[table] ?? "missing"} (expected ${rows})`);
  }
  const providers = new Set([...Object.keys(part.identities), ...Object.keys(restored.identities)]);
  for (const provider of [...providers].sort()) {
    const expected = part.identities[provider] ?? 0;
    const found = restored.identities[provider] ?? 0;
    if (found !== expected) differences.push(`identities of provider ${provider} ${found} (expected ${expected})`);
  }
  if (restored.usersWithoutAuth !== part.usersWithoutAuth) {
    differences.push(`platform users without an auth.users row ${restored.usersWithoutAuth} (expected ${part.usersWithoutAuth})`);
  }
  return differences;
}
