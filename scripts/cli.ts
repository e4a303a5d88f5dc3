/**
 * Shared ending of every command-line entry point: a failure prints one clear line and
 * exits non-zero, never a stack trace.
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { config, ConfigError, loadDotEnv, overrideConfig } from "../lib/config.js";
import { classifiedDbError, DbUnavailableError } from "../lib/db/errors.js";
import { closeDbPools } from "../lib/db/pool.js";
import { redactedUrl } from "../lib/db/target.js";
import { localPlatformDatabaseUrl } from "../lib/local/database.js";
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

/** Set when the command uses `npm start`'s database, DATABASE_URL being unset. */
let usingLocalPlatform = false;

/**
 * DATABASE_URL for a db:* command: the configured one, else the database of the local platform
 * (`npm start`'s embedded PostgreSQL, its password kept in LOCAL_DATA_DIR), said on stderr.
 * Neither: a ConfigError saying both ways.
 */
export async function useDatabase(): Promise<void> {
  if (config().databaseUrl) return;
  const local = await localPlatformDatabaseUrl();
  if (!local) {
    throw new ConfigError(
      `Invalid configuration: DATABASE_URL must be set, or run npm start once: its embedded database (password in ${config().localDataDir}/pg-password) is then used`,
    );
  }
  overrideConfig({ DATABASE_URL: local });
  usingLocalPlatform = true;
  console.error(`using npm start's embedded database, ${redactedUrl(local)} (DATABASE_URL is unset)`);
}

/** The one line a person reads when a command fails. */
export function cliMessage(error: unknown): string {
  const classified = classifiedDbError(error);
  if (classified instanceof DbUnavailableError) {
    const hint = usingLocalPlatform ? "is npm start running?" : "is it running and is DATABASE_URL right?";
    return `cannot reach ${databaseName()} (${classified.reason}); ${hint}`;
  }
  if (error instanceof ConfigError) return error.message;
  return describedError(error);
}

/** The bounds of a number option (`--runs 3`); the words of its error follow from them. */
export interface NumberBounds {
  min?: number;
  max?: number;
  integer?: boolean;
}

/** A number option's value within its bounds, else a UsageError naming the flag and the bounds, with the usage. */
export function numberOption(flag: string, raw: string, { min = 0, max = Infinity, integer = false }: NumberBounds, usage: string): number {
  const value = Number(raw);
  const inBounds = raw.trim() !== "" && value >= min && value <= max && (!integer || Number.isInteger(value));
  if (inBounds) return value;
  const range = max === Infinity ? `of ${min} or more` : `from ${min} to ${max}`;
  throw new UsageError(`--${flag} must be a ${integer ? "whole number" : "number"} ${range}\n${usage}`);
}

/** The number options given, by the key each flag of `table` fills; each checked by numberOption. */
export function numberOptions<Key extends string>(
  table: Record<string, { key: Key; bounds: NumberBounds }>,
  values: Record<string, unknown>,
  usage: string,
): Partial<Record<Key, number>> {
  const options: Partial<Record<Key, number>> = {};
  for (const [flag, { key, bounds }] of Object.entries(table)) {
    const raw = values[flag];
    if (typeof raw === "string") options[key] = numberOption(flag, raw, bounds, usage);
  }
  return options;
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
