/** Creating and dropping the throwaway databases tests run in. */
import { randomBytes } from "node:crypto";
import postgres from "postgres";
import type { Pool } from "../../lib/db/pool.js";

export function adminConnection(url: string): Pool {
  return postgres(url, { max: 1, onnotice: () => undefined });
}

export function databaseUrl(serverUrl: string, database: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

export const TEST_DATABASE_PREFIX = "gap_test_";

export function testDatabaseName(): string {
  return `${TEST_DATABASE_PREFIX}${process.pid}_${randomBytes(4).toString("hex")}`;
}

/** A new database, empty or copied from `template`; CREATE DATABASE from one template at once may collide, so it retries. */
export async function createDatabase(admin: Pool, name: string, template?: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await (template ? admin`create database ${admin(name)} template ${admin(template)}` : admin`create database ${admin(name)}`);
      return;
    } catch (error) {
      const busy = (error as { code?: string }).code === "55006";
      if (!busy || attempt === 20) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
    }
  }
}

export async function dropDatabase(admin: Pool, name: string): Promise<void> {
  await admin`drop database if exists ${admin(name)} with (force)`;
}

/** `read` on a connection of its own to `url`, closed after. */
export async function withConnection<T>(url: string, read: (sql: Pool) => Promise<T>): Promise<T> {
  const sql = adminConnection(url);
  try {
    return await read(sql);
  } finally {
    await sql.end();
  }
}
