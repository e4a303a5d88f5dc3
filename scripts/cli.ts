/**
 * Shared ending of every command-line entry point: a failure prints one clear line and
 * exits non-zero, never a stack trace.
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { config, ConfigError, loadDotEnv } from "../lib/config.js";
import { classifiedDbError, DbUnavailableError } from "../lib/db/errors.js";
import { closeDbPools } from "../lib/db/pool.js";
import { redactedUrl } from "../lib/db/target.js";

/** A mistake in the command line itself: exits with 2 after printing the usage hint. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** node's parseArgs, with a mistake in the command line reported as a UsageError carrying the usage. */
export function commandLine<T extends ParseArgsConfig>(options: T, usage: string): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(options);
  } catch (error) {
    throw new UsageError(`${error instanceof Error ? error.message : String(error)}\n${usage}`);
  }
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
