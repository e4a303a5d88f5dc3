/**
 * Request-path queries get two bounds postgres.js does not give: a wait for a free connection
 * (else the pool is saturated: 503), and a time to finish (enforced here too, because a
 * transaction-mode pooler does not accept the server-side statement_timeout).
 *
 * The wait happens in the pool's gate, not in the driver: postgres.js hands a query to a busy
 * connection when every one is busy, writing it behind the running one, and cancelling it
 * there sends a cancel request once its turn comes, which can land on whatever that backend
 * runs next. Through the gate, a query reaches the driver only when a connection is free, and
 * one that waited too long simply leaves the line. A query past its time is cancelled only
 * while it runs; its place is freed only once it has ended and the cancel request has been
 * delivered, so no cancel outlives its query on that connection.
 */
import { config } from "../config.js";
import { classifiedDbError, DbUnavailableError } from "./errors.js";
import type { Gate } from "./gate.js";
import { requestGate } from "./pool.js";

interface CancellableQuery<T> extends PromiseLike<T> {
  cancel(): unknown;
}

export interface Deadline {
  /** Longest wait for a place in the pool (a free connection). */
  startWithinMs: number;
  /** Longest time from then to the answer: opening a connection if needed, and running. */
  finishWithinMs: number;
}

/**
 * A query whose connection is still being opened must not be cancelled (postgres.js 3.4.9 then
 * leaves that connection unusable): the pool's own connect timeout fails it first, this much
 * earlier than the finish deadline.
 */
const CONNECT_TIMEOUT_MARGIN_MS = 250;

function defaultDeadline(): Deadline {
  const { connectionTimeoutMs, statementTimeoutMs } = config().pool;
  return { startWithinMs: connectionTimeoutMs, finishWithinMs: connectionTimeoutMs + CONNECT_TIMEOUT_MARGIN_MS + statementTimeoutMs };
}

/** postgres.js marks a query active once its connection runs it, and gives it a state once written to one. */
function runningNow(query: object): boolean {
  return (query as { active?: unknown }).active === true;
}

function writtenBehindAnother(query: object): boolean {
  return (query as { state?: unknown }).state !== undefined && !runningNow(query);
}

/** Runs an admitted query; past `finishWithinMs` the caller hears 503 at once, and `release` waits for the query and any cancel to end. */
function finished<T>(query: CancellableQuery<T>, finishWithinMs: number, release: () => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let cancelling: Promise<unknown> = Promise.resolve();
    const timer = setTimeout(() => {
      // One written behind another cannot be taken back: it runs unheard, and is not cancelled.
      // The cancel settles once the server has taken the request and closed its connection (or
      // that connection timed out): postgres.js is patched to return it (patches/), since the
      // query may end on its own while the cancel is on its way and the cancel then hit the next.
      if (!writtenBehindAnother(query)) cancelling = Promise.resolve(query.cancel()).catch(() => undefined);
      reject(new DbUnavailableError("The database did not answer in time, retry shortly", "STATEMENT_TIMEOUT"));
    }, finishWithinMs);
    const settled = Promise.resolve(query).then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        const classified = classifiedDbError(error);
        reject(classified instanceof Error ? classified : new Error(String(classified)));
      },
    );
    void settled.then(() => cancelling).then(release);
  });
}

/** The query's result, or DbUnavailableError when it waits or runs past its deadline. */
export function bounded<T>(query: CancellableQuery<T>, deadline: Deadline = defaultDeadline(), gate: Gate = requestGate()): Promise<T> {
  const ticket = gate.enter();
  return new Promise<T>((resolve, reject) => {
    const waiting = setTimeout(() => {
      if (ticket.withdraw()) reject(new DbUnavailableError("No database connection became free in time, retry shortly", "POOL_TIMEOUT"));
    }, deadline.startWithinMs);
    void ticket.admitted.then(() => {
      clearTimeout(waiting);
      finished(query, deadline.finishWithinMs, () => ticket.release()).then(resolve, reject);
    });
  });
}
