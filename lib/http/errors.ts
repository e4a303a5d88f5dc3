/**
 * One JSON shape for every endpoint's errors: `{ "error": { "code", "message", "request_id" } }`.
 * The error's code decides the status (lib/errors.ts); a database error nobody classified still
 * answers "retry later" for an outage; an unavailable service is logged, and anything unexpected
 * is logged and answered with a 500.
 */
import { classifiedDbError } from "../db/errors.js";
import { ERROR_STATUS, PlatformError, type ErrorCode, type PlatformErrorOptions } from "../errors.js";
import { log } from "../log.js";

export { ERROR_STATUS, RETRY_AFTER_SECONDS, type ErrorCode } from "../errors.js";

/** An error a handler raises itself, with any code: a PlatformError, named for where it is thrown. */
export class ApiError extends PlatformError {
  override name = "ApiError";
  constructor(code: ErrorCode, message: string, headers: Record<string, string> = {}, options: Omit<PlatformErrorOptions, "headers"> = {}) {
    super(code, message, { ...options, headers });
  }
}

/** The JSON response for an error; a 5xx (or anything unexpected) is logged with the request id. */
export function errorResponse(error: unknown, requestId: string): Response {
  const classified = classifiedDbError(error);
  const known = classified instanceof PlatformError ? classified : undefined;
  const status = known ? ERROR_STATUS[known.code] : 500;
  // Maintenance and read-only refusals are the mode working, not failures.
  if (!known || known.code === "SERVICE_UNAVAILABLE") log.error("request failed", { request_id: requestId, error });
  const body = known ? { code: known.code, message: known.publicMessage } : { code: "INTERNAL", message: "Internal server error" };
  return Response.json({ error: { ...body, request_id: requestId } }, { status, headers: { ...known?.headers, "x-request-id": requestId } });
}
