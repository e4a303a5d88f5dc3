/** Errors of the platform's mode, in a module of their own: the HTTP error mapping imports them. */
import { ErrorWithCode } from "../errors.js";

/** The mode cannot be kept anywhere that outlives this instance (Vercel without Upstash): the message says what to set. */
export class ModeUnavailableError extends ErrorWithCode("SERVICE_UNAVAILABLE") {
  override name = "ModeUnavailableError";
}
