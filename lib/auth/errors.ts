/** Errors of authentication, in a module of their own: every function's error mapping imports them, not the verifier. */
import { PlatformError, RETRY_AFTER_SECONDS } from "../errors.js";

/** The access token is missing, malformed, expired or not ours: the message says which (401). */
export class AuthError extends PlatformError {
  override name = "AuthError";
  constructor(message: string) {
    super("UNAUTHORIZED", message, { headers: { "www-authenticate": 'Bearer error="invalid_token"' } });
  }
}

/** The signing keys could not be fetched: not the caller's fault, retry later (503). */
export class AuthUnavailableError extends PlatformError {
  override name = "AuthUnavailableError";
  constructor(message: string, options?: { cause?: unknown }) {
    super("SERVICE_UNAVAILABLE", message, { ...options, headers: { "retry-after": String(RETRY_AFTER_SECONDS) } });
  }
}
