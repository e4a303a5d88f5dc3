/**
 * Shared ending of every command-line entry point: a failure prints one clear line and
 * exits non-zero, never a stack trace.
 */
import { config, ConfigError, loadDotEnv } from "../lib/config.js";
import { classifiedDbError, DbUnavailableError } from "../lib/db/errors.js";
import { closeDbPools } from "../lib/db/pool.js";
import { redactedUrl } from "../lib/db/target.js";

/** A mistake in the command line itself: exits with 2 after printing the usage hint. */
export class UsageError extends Error {
  override name = "UsageError";
}

function databaseName(): string {
  try {
    const url = config().databaseUrl;
    return url ? redactedUrl(url) : "the database";
  } catch {
    return "the database";
  }
}

/** The one line a person reads when a command fails. */
export function cliMessage(error: unknown): string {
  const classified = classifiedDbError(error);
  if (classified instanceof DbUnavailableError) {
    return `cannot reach ${databaseName()} (${classified.reason}); is it running and is DATABASE_URL right?`;
  }
  if (error instanceof ConfigError) return error.message;
  return error instanceof Error ? error.message : String(error);
}

export async function runCli(main: () => Promise<void>): Promise<void> {
  try {
    loadDotEnv();
    await main();
  } catch (error) {
    console.error(`error: ${cliMessage(error)}`);
    process.exitCode = error instanceof UsageError ? 2 : 1;
    await closeDbPools(0).catch(() => undefined);
  }
}
