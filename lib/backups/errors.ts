/**
 * Errors of the backup tooling that an endpoint answers as "not possible here now" (503), in a
 * module of their own: every function's error mapping imports them, not the tooling.
 */

/** pg_dump or pg_restore missing, too old, or failing: the message says what to install or set. */
export class PgToolError extends Error {
  override name = "PgToolError";
}

/** A drill has nothing to restore: no successful backup with its archive kept on this machine. */
export class DrillError extends Error {
  override name = "DrillError";
}
