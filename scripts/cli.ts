/**
 * Shared ending of every command-line entry point: a failure prints one clear line and
 * exits non-zero, never a stack trace.
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { config, ConfigError, loadDotEnv, overrideConfig } from "../lib/config.js";
import { classifiedDbError, DbUnavailableError } from "../lib/db/errors.js";
import { closeDbPools } from "../lib/db/pool.js";
import { redactedUrl } from "../lib/db/target.js";
import { keptLocalSecret, localSecret, SIGNING_KEY_FILE } from "../lib/local/secrets.js";
import { describedError } from "../lib/errors.js";

/** A mistake in the command line itself: exits with 2 after printing the usage hint. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** node's parseArgs, with a mistake in the command line reported as a UsageError carrying the usage. */
export function commandLine<T extends ParseArgsConfig>(options: T, usage: string): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(options);
  } catch (error) {
    throw new UsageError(`${describedError(error)}\n${usage}`);
  }
}

const AGE_UNITS_MS = { m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** A time given on the command line: ISO 8601 (2026-12-06T03:00Z), or an age back from now (90m, 6h, 3d). */
export function timeOrAge(raw: string, option: string, usage: string, now: Date = new Date()): Date {
  const age = /^(\d{1,6})([mhd])$/.exec(raw);
  if (age?.[1] && age[2]) return new Date(now.getTime() - Number(age[1]) * AGE_UNITS_MS[age[2] as keyof typeof AGE_UNITS_MS]);
  const at = /^\d{4}-\d{2}-\d{2}(T[\d:.]+)?(Z|[+-]\d{2}:?\d{2})?$/.test(raw) ? new Date(raw) : undefined;
  if (!at || Number.isNaN(at.getTime())) throw new UsageError(`${option} must be a time (2026-12-06T03:00Z) or an age (90m, 6h, 3d)\n${usage}`);
  return at;
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
  return describedError(error);
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

/**
 * BACKUP_SIGNING_KEY for a command on this machine: the configured one, else the one `npm
 * start` keeps in LOCAL_DATA_DIR; `create` makes and keeps one when there is none (a backup
 * must be signed; a restore only reads).
 */
export async function useLocalSigningKey({ create }: { create: boolean }): Promise<void> {
  const configured = config().backups.signingKey;
  if (configured) return;
  const key = create ? await localSecret(undefined, SIGNING_KEY_FILE) : await keptLocalSecret(SIGNING_KEY_FILE);
  if (key) overrideConfig({ BACKUP_SIGNING_KEY: key });
}
