/** Errors of talking to PostgreSQL, and the test that tells an outage from a wrong query. */
import { ErrorWithCode, PlatformError, RETRY_AFTER_SECONDS } from "../errors.js";

/**
 * The database is out of reach, saturated or too slow: the caller may retry later.
 * Handlers answer it with 503 and Retry-After.
 */
export class DbUnavailableError extends PlatformError {
  override name = "DbUnavailableError";
  constructor(
    message: string,
    /** The driver's code or SQLSTATE behind it (ECONNREFUSED, 57014...), or POOL_TIMEOUT, STATEMENT_TIMEOUT. */
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super("SERVICE_UNAVAILABLE", message, { ...options, headers: { "retry-after": String(RETRY_AFTER_SECONDS) } });
  }
}

/** A migration file failed (and was rolled back) or is misnamed: the message names the file. */
export class MigrationError extends ErrorWithCode("SERVICE_UNAVAILABLE") {
  override name = "MigrationError";
}

/** postgres.js client codes and SQLSTATEs that mean "not now", not "wrong query". */
const UNAVAILABLE_CODES = new Set([
  "CONNECT_TIMEOUT",
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "ECONNREFUSED",
  "ECONNRESET",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "57014", // query_canceled: statement timeout
  "57P01", // admin_shutdown
  "57P02", // crash_shutdown
  "57P03", // cannot_connect_now
  "53300", // too_many_connections
  "08000",
  "08001",
  "08003",
  "08004",
  "08006",
]);

/** The SQLSTATE (or driver code) an error carries, if any. */
export function errorCode(error: unknown): string | undefined {
  if (typeof error !== "object" || error === null || !("code" in error)) return undefined;
  const code = error.code;
  return typeof code === "string" ? code : undefined;
}

/** The error as a DbUnavailableError when it means the database is out of reach, else the error itself. */
export function classifiedDbError(error: unknown): unknown {
  if (error instanceof DbUnavailableError) return error;
  const code = errorCode(error);
  if (code !== undefined && UNAVAILABLE_CODES.has(code)) {
    return new DbUnavailableError("The database is unavailable, retry shortly", code, { cause: error });
  }
  if (error instanceof AggregateError && error.errors.some((e) => classifiedDbError(e) instanceof DbUnavailableError)) {
    return new DbUnavailableError("The database is unavailable, retry shortly", "CONNECT_FAILED", { cause: error });
  }
  return error;
}

/**
 * A session that cannot be signalled: not on the server ("not-found"), or one it would be wrong
 * to signal ("refused": the asking session itself, a server process rather than a client).
 */
export class SessionSignalError extends PlatformError {
  override name = "SessionSignalError";
  constructor(
    message: string,
    readonly reason: "not-found" | "refused" = "refused",
  ) {
    super(reason === "not-found" ? "NOT_FOUND" : "SIGNAL_REFUSED", message);
  }
}

/** Measured advice was pointed at something it may not measure on (the database itself rather than a copy). */
export class MeasureError extends ErrorWithCode("BAD_REQUEST") {
  override name = "MeasureError";
}
