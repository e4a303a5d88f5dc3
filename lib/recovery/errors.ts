/** Errors of putting an organization's rows back, in a module of their own: the error mapping imports them. */
import { ErrorWithCode } from "../errors.js";

/** The recovery cannot be done as asked (no such organization in the backup, a table that holds none of its data). Nothing was changed. */
export class RecoveryRefusedError extends ErrorWithCode("RESTORE_REFUSED") {
  override name = "RecoveryRefusedError";
}
