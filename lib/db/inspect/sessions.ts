/** One server session by its pid, and the signals that stop its query (cancel) or end it (terminate). */
import type { Sql } from "../pool.js";
import { redactionReady, shownStatement } from "../redaction.js";

export type SessionSignal = "cancel" | "terminate";

/** The backend types a person may signal: clients, and autovacuum workers (cancelling one only postpones it). */
const SIGNALLABLE = ["client backend", "autovacuum worker"];

export interface Session {
  pid: number;
  database: string | null;
  role: string | null;
  application: string;
  /** Null when the asking role may not see it. */
  backendType: string | null;
  state: string | null;
  query: string;
}

export interface SessionFound extends Session {
  /** The session asking. */
  self: boolean;
  signallable: boolean;
}

/**
 * The session with this pid on the server, as the asking session sees it; undefined if there
 * is none. Read afresh: pg_stat_activity is otherwise read once per transaction.
 */
export async function sessionOf(sql: Sql, pid: number): Promise<SessionFound | undefined> {
  await redactionReady();
  await sql`select pg_stat_clear_snapshot()`;
  const [row] = await sql<SessionFound[]>`
    select
      pid,
      datname as database,
      usename as role,
      coalesce(nullif(application_name, ''), '(none)') as application,
      backend_type as "backendType",
      state,
      query,
      pid = pg_backend_pid() as self,
      -- hidden from a role without pg_read_all_stats: the server judges when signalled
      coalesce(backend_type in ${sql(SIGNALLABLE)}, true) as signallable
    from pg_stat_activity
    where pid = ${pid}`;
  return row && { ...row, query: shownStatement(row.query, 500) };
}

/**
 * Sends the signal: cancel stops the running query; terminate ends the session, waiting up to
 * `waitMs` for it to go. False when the session was gone first (or outlived the wait).
 * @default 5000 ms
 */
export async function signalled(sql: Sql, pid: number, signal: SessionSignal, { waitMs = 5000 } = {}): Promise<boolean> {
  const [row] =
    signal === "cancel"
      ? await sql<{ done: boolean }[]>`select pg_cancel_backend(${pid}) as done`
      : await sql<{ done: boolean }[]>`select pg_terminate_backend(${pid}, ${waitMs}) as done`;
  return row?.done === true;
}
