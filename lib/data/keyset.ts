/** Keyset pagination, as every listing shares it: rows newest first by (created_at, id), read after a position. */
import type postgres from "postgres";
import type { Sql } from "../db/pool.js";

/** Where a page ended: its last row's time (`api_timestamp` text, microseconds) and id. */
export interface Position {
  createdAt: string;
  id: string;
}

/** What a page reads: `limit` rows (one more than it shows: the extra says there is more), after `after`. */
export interface PageWindow {
  limit: number;
  after?: Position;
}

type Fragment = postgres.PendingQuery<postgres.Row[]>;

/**
 * `and (alias.created_at, alias.id) < (position)`, or nothing on the first page. The time is
 * bound as text and cast: postgres.js would send a timestamptz through a JavaScript Date and
 * drop its microseconds, and a page would skip rows inside one millisecond.
 */
export function keysetAfter(sql: Sql, alias: string, after: Position | undefined): Fragment {
  if (!after) return sql``;
  return sql`and (${sql(`${alias}.created_at`)}, ${sql(`${alias}.id`)}) < (${after.createdAt}::text::timestamptz, ${after.id}::uuid)`;
}
