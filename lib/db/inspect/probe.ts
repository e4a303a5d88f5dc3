/**
 * How every inspection query runs: on the direct connection, in a read-only transaction
 * whose statement timeout bounds it, so a probe of a struggling server cannot add to its load.
 */
import type postgres from "postgres";
import type { Pool, Sql, Transaction } from "../pool.js";

/*
 * The pools do not fetch array types, so array columns come back as JSON (`to_json(...)`),
 * which postgres.js parses.
 */

/** Schemas of PostgreSQL and of Supabase's own services: not the platform's to judge. */
const INTERNAL_SCHEMAS = [
  "pg_catalog",
  "information_schema",
  "pg_toast",
  "auth",
  "storage",
  "realtime",
  "_realtime",
  "_analytics",
  "supabase_functions",
  "supabase_migrations",
  "extensions",
  "graphql",
  "graphql_public",
  "vault",
  "pgsodium",
  "pgsodium_masks",
  "net",
  "cron",
  "pgbouncer",
] as const;

/** The schema in `column` (default `n.nspname`) is the platform's own, not an internal one. */
export function ownSchema(sql: Sql, column = "n.nspname"): postgres.PendingQuery<postgres.Row[]> {
  return sql`${sql(column)} not in ${sql([...INTERNAL_SCHEMAS])} and ${sql(column)} not like 'pg\_%'`;
}

/** `run` in a read-only transaction (savepoints let one failing step leave the rest standing). @default 5000 ms */
export async function probed<T>(sql: Pool, run: (tx: Transaction) => Promise<T>, timeoutMs = 5000): Promise<T> {
  return sql.begin("read only", async (tx) => {
    await tx`select set_config('statement_timeout', ${String(timeoutMs)}, true)`;
    return run(tx);
  }) as Promise<T>;
}
