/**
 * What this role may see of other roles' work. Without `pg_read_all_stats` (Supabase's
 * `postgres` has it; a role made for a tool may not), PostgreSQL shows another role's session
 * with no state, timing, kind or query ("<insufficient privilege>"), and another role's
 * statement statistics with no query id or text. The inspection says so rather than leave
 * them out in silence.
 */
import type postgres from "postgres";
import type { Sql } from "../pool.js";

/** The text PostgreSQL puts in place of a query this role may not see. */
export const HIDDEN_QUERY = "<insufficient privilege>";

export interface StatsVisibility {
  role: string;
  /** Superuser, or holding pg_read_all_stats's privileges (as PostgreSQL checks them): every session and statement is seen whole. */
  seesAllRoles: boolean;
  /** Sessions in this database whose state and query are hidden from this role. */
  hiddenSessions: number;
}

export async function statsVisibility(sql: Sql): Promise<StatsVisibility> {
  const [row] = await sql<StatsVisibility[]>`
    select
      current_user::text as role,
      (select rolsuper from pg_roles where rolname = current_user) or pg_has_role(current_user, 'pg_read_all_stats', 'USAGE') as "seesAllRoles",
      (select count(*)::int from pg_stat_activity where datname = current_database() and query = ${HIDDEN_QUERY}) as "hiddenSessions"`;
  if (!row) throw new Error("no row for the current role");
  return row;
}

/** A note saying what this role misses for want of pg_read_all_stats, and how to give it; none when it sees all. */
function missingStatsNote(visibility: StatsVisibility, missed: string): string[] {
  if (visibility.seesAllRoles) return [];
  return [`role ${visibility.role} is not a member of pg_read_all_stats: ${missed}; grant it pg_read_all_stats (or pg_monitor) to see them`];
}

/** The note a section carries when this role cannot see every session; none when it can. */
export function hiddenSessionsNote(visibility: StatsVisibility): string[] {
  return missingStatsNote(
    visibility,
    `${visibility.hiddenSessions} session(s) of other roles in this database are not listed (PostgreSQL hides their state, timing and query from it)`,
  );
}

/** The note the statement statistics carry when this role cannot see other roles' statements. */
export function hiddenStatementsNote(visibility: StatsVisibility): string[] {
  return missingStatsNote(
    visibility,
    `other roles' statements are counted in the totals but shown without their text ("another role's statement") and not recorded by the stats snapshot`,
  );
}

/**
 * A client session, including one this role may not see whole: PostgreSQL hides a hidden
 * session's kind too, so one in a database counts as a client (an autovacuum worker may be
 * counted with them while it runs; another role's clients are not left out).
 */
export function clientSession(sql: Sql): postgres.PendingQuery<postgres.Row[]> {
  return sql`(backend_type = 'client backend' or (backend_type is null and datname is not null and query = ${HIDDEN_QUERY}))`;
}

/** The note the connection counts carry when some sessions are counted without their state. */
export function hiddenConnectionsNote(visibility: StatsVisibility): string[] {
  return missingStatsNote(
    visibility,
    `sessions of other roles are counted as connections with their state "(hidden)" (PostgreSQL hides their state and kind from it, so an autovacuum worker may be counted among them)`,
  );
}
