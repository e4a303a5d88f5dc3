/**
 * A job whose failure alerts: `job:<name>` fires when a run fails (the error is rethrown,
 * so the caller still answers it) and is resolved by the next run that succeeds. An alert
 * that cannot be sent is logged, and never hides the job's own error or result.
 */
import { platformAlerts, type Alerter } from "../alerts/alerts.js";
import { DbUnavailableError } from "../db/errors.js";
import { PlatformError } from "../errors.js";
import { log } from "../log.js";

/** The failure in a line: the message, with the database's reason (ECONNREFUSED, POOL_TIMEOUT) or a driver's code. */
function reasonOf(error: unknown): string {
  if (error instanceof DbUnavailableError) return `${error.message} (${error.reason})`;
  if (error instanceof PlatformError) return error.message;
  if (!(error instanceof Error)) return "unknown error";
  const code = (error as { code?: unknown }).code;
  return typeof code === "string" ? `${error.message} (${code})` : error.message;
}

export async function monitored<T>(name: string, run: () => Promise<T>, alerts: Alerter = platformAlerts()): Promise<T> {
  let result: T;
  try {
    result = await run();
  } catch (error) {
    await alerts
      .raise({ key: `job:${name}`, summary: `job ${name} failed: ${reasonOf(error)}`, details: { job: name } })
      .catch((alertError: unknown) => log.error("the job's failure alert could not be raised; the job's own error follows", { job: name, error: alertError }));
    throw error;
  }
  await alerts
    .clear(`job:${name}`, `job ${name} succeeded`)
    .catch((alertError: unknown) => log.error("the job's alert could not be resolved", { job: name, error: alertError }));
  return result;
}
