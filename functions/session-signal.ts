/**
 * PgHero's kill, with its guard rails: `cancel` stops a session's running query, `terminate`
 * ends the session. Refused for the asking session itself and for the server's own processes;
 * nothing is sent until the caller confirms, having seen the session.
 */
import { errorCode, SessionSignalError } from "../lib/db/errors.js";
import { sessionOf, signalled, type Session, type SessionSignal } from "../lib/db/inspect/sessions.js";
import type { Pool, Sql } from "../lib/db/pool.js";

export type { Session, SessionSignal };

const TERMINATE_WAIT_MS = 5000;

/** The signal sent; a role without the right to signal that session is refused, not failed. */
async function sent(connection: Sql, pid: number, signal: SessionSignal): Promise<boolean> {
  try {
    return await signalled(connection, pid, signal, { waitMs: TERMINATE_WAIT_MS });
  } catch (error) {
    if (errorCode(error) !== "42501") throw error;
    throw new SessionSignalError(`not allowed to ${signal} session ${pid}: ${(error as Error).message}`);
  }
}

export interface SignalOutcome {
  session: Session;
  /** Whether the signal was sent (only with `confirmed`). */
  sent: boolean;
}

/**
 * The session `pid` and, when `confirmed`, the signal sent to it, both in one transaction (so
 * on one connection: "the asking session" is the one that signals). A transaction rather than
 * sql.reserve(), which never settles on a cold pool without fetch_types (porsager/postgres#751).
 */
export async function signalSession(sql: Pool, pid: number, signal: SessionSignal, { confirmed }: { confirmed: boolean }): Promise<SignalOutcome> {
  return sql.begin(async (connection) => {
    const found = await sessionOf(connection, pid);
    if (!found) throw new SessionSignalError(`no session with pid ${pid} on the server`, "not-found");
    const { self, signallable, ...session } = found;
    if (self) throw new SessionSignalError(`pid ${pid} is this inspecting session itself; refusing to ${signal} it`);
    if (!signallable) {
      throw new SessionSignalError(`pid ${pid} is the server's ${session.backendType}, not a client session; refusing to ${signal} it`);
    }
    if (!confirmed) return { session, sent: false };
    if (await sent(connection, pid, signal)) return { session, sent: true };
    if (signal === "terminate" && (await sessionOf(connection, pid))) {
      throw new SessionSignalError(`session ${pid} was signalled but had not ended ${TERMINATE_WAIT_MS / 1000} s later`);
    }
    throw new SessionSignalError(`session ${pid} ended before the signal reached it`, "not-found");
  });
}
