/** Errors of the backup tooling that an endpoint answers as "not possible here now" (503). */

/** A drill has nothing to restore: no successful backup with its archive kept on this machine. */
export class DrillError extends Error {
  override name = "DrillError";
}
