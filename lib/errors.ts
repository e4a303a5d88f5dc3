/**
 * One error model for the whole platform. Every failure it names is a PlatformError whose
 * `code` decides how it is answered (ERROR_STATUS: 400, 401, 503...), whose message is said to
 * the caller (never a secret) and which may carry headers (Retry-After, WWW-Authenticate). Each
 * module's errors (lib/backups/errors.ts, lib/db/errors.ts...) are subclasses fixing their code,
 * so the HTTP layer maps by code, not by a chain of classes; anything else is a 500, logged.
 */

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

/** Seconds a client should wait before retrying what is unavailable for now (the database, the signing keys). */
export const RETRY_AFTER_SECONDS = 2;

export interface PlatformErrorOptions {
  headers?: Record<string, string>;
  cause?: unknown;
}

export class PlatformError extends Error {
  override name = "PlatformError";
  readonly headers: Record<string, string>;
  constructor(
    readonly code: ErrorCode,
    message: string,
    { headers = {}, cause }: PlatformErrorOptions = {},
  ) {
    super(message, cause === undefined ? undefined : { cause });
    this.headers = headers;
  }

  /** What the caller is told: the message, unless the error says less (a configuration problem). */
  get publicMessage(): string {
    return this.message;
  }
}

/** The one way an error is put into words: its message, or the thrown value itself when it is not an Error. */
export function describedError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The base of a module's error that always answers `code`: `class BackupToolError extends ErrorWithCode("SERVICE_UNAVAILABLE") {}`. */
export function ErrorWithCode(code: ErrorCode) {
  return class extends PlatformError {
    constructor(message: string, options: { cause?: unknown } = {}) {
      super(code, message, options);
    }
  };
}
