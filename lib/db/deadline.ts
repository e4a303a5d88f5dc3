/**
 * postgres.js waits forever for a free connection and has no client-side query timeout.
 * A request-path query gets two bounds: it must start within the connection timeout
 * (else the pool is saturated), and finish within the statement timeout (enforced here
 * too, because a transaction-mode pooler does not accept the server-side setting).
 */
import { config } from "../config.js";
import { classifiedDbError, DbUnavailableError } from "./errors.js";

interface CancellableQuery<T> extends PromiseLike<T> {
  cancel(): unknown;
}

export interface Deadline {
  startWithinMs: number;
  finishWithinMs: number;
}

/**
 * A query handed to a connection that is still connecting must not be withdrawn (see
 * pool.ts): the pool's own connect timeout fails it first, this much earlier.
 */
const CONNECT_TIMEOUT_MARGIN_MS = 250;

function defaultDeadline(): Deadline {
  const { connectionTimeoutMs, statementTimeoutMs } = config().pool;
  const startWithinMs = connectionTimeoutMs + CONNECT_TIMEOUT_MARGIN_MS;
  return { startWithinMs, finishWithinMs: startWithinMs + statementTimeoutMs };
}

/** postgres.js marks a query active once a connection runs it; until then it is waiting. */
function started(query: object): boolean {
  return (query as { active?: unknown }).active === true;
}

/** The query's result, or DbUnavailableError when it waits or runs past its deadline. */
export function bounded<T>(query: CancellableQuery<T>, deadline: Deadline = defaultDeadline()): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const giveUp = (reason: string, message: string) => {
      // cancel() answers with a promise that fails when the server is out of reach too.
      Promise.resolve(query.cancel()).catch(() => undefined);
      reject(new DbUnavailableError(message, reason));
    };
    const startTimer = setTimeout(() => {
      if (!started(query)) giveUp("POOL_TIMEOUT", "No database connection became free in time, retry shortly");
    }, deadline.startWithinMs);
    const finishTimer = setTimeout(
      () => giveUp("STATEMENT_TIMEOUT", "The database did not answer in time, retry shortly"),
      deadline.finishWithinMs,
    );
    query.then(
      (value) => {
        clearTimeout(startTimer);
        clearTimeout(finishTimer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(startTimer);
        clearTimeout(finishTimer);
        reject(classifiedDbError(error));
      },
    );
  });
}
