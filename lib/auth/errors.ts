/** Errors of authentication, in a module of their own: every function's error mapping imports them, not the verifier. */

/** The access token is missing, malformed, expired or not ours: the message says which (401). */
export class AuthError extends Error {
  override name = "AuthError";
}

/** The signing keys could not be fetched: not the caller's fault, retry later (503). */
export class AuthUnavailableError extends Error {
  override name = "AuthUnavailableError";
}
