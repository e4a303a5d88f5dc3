/**
 * A job whose failure alerts: `job:<name>` fires when a run fails (the error is rethrown,
 * so the caller still answers it) and is resolved by the next run that succeeds.
 */
import { platformAlerts } from "../alerts/alerts.js";

function reasonOf(error: unknown): string {
  if (!(error instanceof Error)) return "unknown error";
  const code = (error as { code?: unknown }).code;
  return typeof code === "string" ? `${error.message} (${code})` : error.message;
}

export async function monitored<T>(name: string, run: () => Promise<T>): Promise<T> {
  const alerts = platformAlerts();
  let result: T;
  try {
    result = await run();
  } catch (error) {
    await alerts.raise({ key: `job:${name}`, summary: `job ${name} failed: ${reasonOf(error)}`, details: { job: name } });
    throw error;
  }
  await alerts.clear(`job:${name}`);
  return result;
}
