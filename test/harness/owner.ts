/**
 * The database owner managed PostgreSQL gives (Supabase's `postgres`, the owner on RDS, Cloud
 * SQL or Neon): not a superuser, but with CREATEDB and CREATEROLE, the predefined monitoring
 * roles, and extensions a superuser created for it in an `extensions` schema. A superuser
 * makes the role, the database and its `extensions` schema; everything after runs as the owner.
 */
import { randomBytes } from "node:crypto";
import type { Pool } from "../../lib/db/pool.js";
import { adminConnection, databaseUrl } from "./postgres-admin.js";

/** What managed PostgreSQL grants its owner: statistics, settings and signals, never superuser. */
const OWNER_ROLES = ["pg_monitor", "pg_read_all_stats", "pg_signal_backend"] as const;

/** The extensions a superuser pre-creates in `extensions` (as Supabase's dashboard does) when the server offers them. */
export const PRECREATED_EXTENSIONS = ["pg_stat_statements", "hypopg"] as const;

export interface ManagedOwner {
  name: string;
  /** The server's URL as the owner (no database). */
  url: string;
  /** Drops the role and everything it still owns (databases first, by the caller). */
  drop(): Promise<void>;
}

/** The server's URL with another user and password. */
export function urlAs(serverUrl: string, user: string, password: string): string {
  const url = new URL(serverUrl);
  url.username = encodeURIComponent(user);
  url.password = encodeURIComponent(password);
  return url.toString();
}

/** A new login role with the managed owner's attributes and roles, and a generated password. */
export async function createManagedOwner(superuserUrl: string, name: string): Promise<ManagedOwner> {
  const password = randomBytes(18).toString("base64url");
  const admin = adminConnection(superuserUrl);
  try {
    const [me] = await admin<{ superuser: boolean }[]>`select rolsuper as superuser from pg_roles where rolname = current_user`;
    if (!me?.superuser) {
      throw new Error(
        "the owner project sets up a managed owner as a superuser would: TEST_DATABASE_URL must name a superuser (or leave it unset for the embedded server)",
      );
    }
    await admin`drop role if exists ${admin(name)}`;
    await admin`create role ${admin(name)} login createdb createrole nosuperuser noreplication nobypassrls`;
    await admin.begin(async (tx) => {
      // The password through the server's own quoting: it is a bound parameter here.
      await tx`select set_config('gap.owner_name', ${name}, true), set_config('gap.owner_password', ${password}, true)`;
      await tx`do $$ begin execute format('alter role %I password %L', current_setting('gap.owner_name'), current_setting('gap.owner_password')); end $$`;
    });
    for (const role of OWNER_ROLES) await admin`grant ${admin(role)} to ${admin(name)}`;
    // Supabase's roles find the extensions schema on their path (a tool's unqualified
    // pg_stat_statements, postgres_exporter's among them, works there); the platform qualifies its own.
    await admin`alter role ${admin(name)} set search_path = "$user", public, extensions`;
  } finally {
    await admin.end();
  }
  return {
    name,
    url: urlAs(superuserUrl, name, password),
    drop: async () => {
      const sql = adminConnection(superuserUrl);
      try {
        await sql`drop role if exists ${sql(name)}`;
      } finally {
        await sql.end();
      }
    },
  };
}

/**
 * As a superuser: the database `name`, owned by `owner`, with an `extensions` schema the owner
 * owns and the pre-created extensions in it (those the server offers), as Supabase sets up a
 * project's database. The owner may copy it (CREATE DATABASE … TEMPLATE), since it owns it.
 */
export async function createOwnedDatabase(superuserUrl: string, name: string, owner: string): Promise<void> {
  const admin = adminConnection(superuserUrl);
  try {
    await admin`create database ${admin(name)} owner ${admin(owner)}`;
  } finally {
    await admin.end();
  }
  const database: Pool = adminConnection(databaseUrl(superuserUrl, name));
  try {
    await database`create schema extensions authorization ${database(owner)}`;
    // As Supabase's supabase_admin does: what it creates in `extensions` is granted to the owner.
    await database`alter default privileges in schema extensions grant all on tables to ${database(owner)} with grant option`;
    await database`alter default privileges in schema extensions grant all on functions to ${database(owner)} with grant option`;
    await database`alter default privileges in schema extensions grant all on sequences to ${database(owner)} with grant option`;
    const offered = await database<{ name: string }[]>`
      select name from pg_available_extensions where name in ${database([...PRECREATED_EXTENSIONS])}`;
    for (const { name: extension } of offered) await database`create extension if not exists ${database(extension)} with schema extensions`;
  } finally {
    await database.end();
  }
}
