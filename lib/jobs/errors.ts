/** Errors of handing work over, in a module of their own: every function's error mapping imports it, not the QStash client. */
import { PlatformError } from "../errors.js";

/** QStash refused or could not be reached: the work was not handed over. */
export class JobPublishError extends PlatformError {
  override name = "JobPublishError";
  constructor(message: string, options?: { cause?: unknown }) {
    super("SERVICE_UNAVAILABLE", message, options);
  }
}

/** QStash refused a change to its schedules, or could not be reached: what was not done is said. */
export class ScheduleSyncError extends PlatformError {
  override name = "ScheduleSyncError";
  constructor(message: string, options?: { cause?: unknown }) {
    super("SERVICE_UNAVAILABLE", message, options);
  }
}
