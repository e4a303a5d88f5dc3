/**
 * One error type and one JSON shape for every endpoint:
 * `{ "error": { "code", "message", "request_id" } }`.
 */
import { AuthError, AuthUnavailableError } from "../auth/errors.js";
import {
  BackupIntegrityError,
  BackupNotFoundError,
  BackupStoreError,
  BackupUntrustedError,
  DrillError,
  BackupToolError,
  RestoreRefusedError,
  UnsafeBackupDirError,
} from "../backups/errors.js";
import { ConfigError } from "../config.js";
import { JobPublishError, ScheduleSyncError } from "../jobs/errors.js";
import { classifiedDbError, DbUnavailableError, MigrationError, SessionSignalError } from "../db/errors.js";
import { log } from "../log.js";
import { ModeUnavailableError } from "../platform/errors.js";
import { RecoveryRefusedError } from "../recovery/errors.js";

export const ERROR_STATUS = {
  BAD_REQUEST: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  RESTORE_REFUSED: 409,
  SIGNAL_REFUSED: 409,
  PAYLOAD_TOO_LARGE: 413,
  HEADERS_TOO_LARGE: 431,
  UNSUPPORTED_MEDIA_TYPE: 415,
  BACKUP_REJECTED: 422,
  TOO_MANY_REQUESTS: 429,
  SERVICE_UNAVAILABLE: 503,
  MAINTENANCE: 503,
  READ_ONLY: 503,
  INTERNAL: 500,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export class ApiError extends Error {
  override name = "ApiError";
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** Failures of work that cannot be done here now (a tool, a store, a worker missing): 503 with the reason. */
const NOT_POSSIBLE_NOW = [
  BackupToolError,
  JobPublishError,
  ScheduleSyncError,
  DrillError,
  BackupStoreError,
  BackupNotFoundError,
  UnsafeBackupDirError,
  MigrationError,
  ModeUnavailableError,
];

/** Seconds a client should wait before retrying when the database is unavailable. */
export const RETRY_AFTER_SECONDS = 2;

function asApiError(error: unknown): ApiError | undefined {
  if (error instanceof ApiError) return error;
  // A path that did not classify its database errors (a job, say) still answers "retry later" for an outage.
  const unavailable = classifiedDbError(error);
  if (unavailable instanceof DbUnavailableError || unavailable instanceof AuthUnavailableError) {
    return new ApiError("SERVICE_UNAVAILABLE", unavailable.message, { "retry-after": String(RETRY_AFTER_SECONDS) });
  }
  if (error instanceof AuthError) {
    return new ApiError("UNAUTHORIZED", error.message, { "www-authenticate": 'Bearer error="invalid_token"' });
  }
  if (error instanceof BackupIntegrityError || error instanceof BackupUntrustedError) return new ApiError("BACKUP_REJECTED", error.message);
  if (error instanceof RestoreRefusedError || error instanceof RecoveryRefusedError) return new ApiError("RESTORE_REFUSED", error.message);
  if (error instanceof SessionSignalError) return new ApiError(error.reason === "not-found" ? "NOT_FOUND" : "SIGNAL_REFUSED", error.message);
  if (NOT_POSSIBLE_NOW.some((kind) => error instanceof kind)) return new ApiError("SERVICE_UNAVAILABLE", (error as Error).message);
  if (error instanceof ConfigError) {
    return new ApiError("SERVICE_UNAVAILABLE", "The service is not configured; see the server log");
  }
  return undefined;
}

/** The JSON response for an error; anything unexpected is logged and answered with a generic 500. */
export function errorResponse(error: unknown, requestId: string): Response {
  const known = asApiError(error);
  if (known?.code === "SERVICE_UNAVAILABLE" || !known) {
    log.error("request failed", { request_id: requestId, error });
  }
  const apiError = known ?? new ApiError("INTERNAL", "Internal server error");
  return Response.json(
    { error: { code: apiError.code, message: apiError.message, request_id: requestId } },
    { status: ERROR_STATUS[apiError.code], headers: { ...apiError.headers, "x-request-id": requestId } },
  );
}
