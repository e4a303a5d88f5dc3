/** Errors of handing work over, in a module of their own: every function's error mapping imports it, not the QStash client. */
import { ErrorWithCode } from "../errors.js";

/** QStash refused or could not be reached: the work was not handed over. */
export class JobPublishError extends ErrorWithCode("SERVICE_UNAVAILABLE") {
  override name = "JobPublishError";
}

/** QStash refused a change to its schedules, or could not be reached: what was not done is said. */
export class ScheduleSyncError extends ErrorWithCode("SERVICE_UNAVAILABLE") {
  override name = "ScheduleSyncError";
}
