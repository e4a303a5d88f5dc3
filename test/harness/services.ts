/**
 * Tests that need a service outside PostgreSQL: skipped where the service is missing, so
 * `npm test` passes on a fresh laptop, but under CI (`CI=true`) a missing service fails.
 */
import { execFileSync } from "node:child_process";
import { access } from "node:fs/promises";
import { Redis as RedisClient } from "ioredis";
import type { Pool } from "../../lib/db/pool.js";

const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const UNDER_CI = process.env.CI === "true";

async function redisAnswers(url: string): Promise<boolean> {
  const client = new RedisClient(url, { lazyConnect: true, connectTimeout: 1000, maxRetriesPerRequest: 0, retryStrategy: () => null });
  try {
    await client.connect();
    return (await client.ping()) === "PONG";
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

function onPath(command: string): boolean {
  try {
    execFileSync("which", [command], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

function required(what: string, available: boolean): boolean {
  if (!available && UNDER_CI) throw new Error(`${what} is required under CI: .ci/run must provide it`);
  return available;
}

/** Whether Redis answers at REDIS_URL; under CI, an error when it does not. */
export async function redisAvailable(): Promise<boolean> {
  return required(`Redis at ${REDIS_URL}`, await redisAnswers(REDIS_URL));
}

export function commandAvailable(command: string): boolean {
  return required(`${command} on the PATH`, onPath(command));
}

/** Whether a file a package installs is there; under CI, an error when it is not. */
export async function fileAvailable(file: string, hint: string): Promise<boolean> {
  const present = await access(file).then(
    () => true,
    () => false,
  );
  return required(`${file} (${hint})`, present);
}

/** Whether the test PostgreSQL offers an extension; under CI, an error when it does not. */
export async function extensionOffered(sql: Pool, name: string, hint: string): Promise<boolean> {
  const [row] = await sql<{ offered: boolean }[]>`select exists (select 1 from pg_available_extensions where name = ${name}) as offered`;
  return required(`the ${name} extension on the test PostgreSQL (${hint})`, Boolean(row?.offered));
}

/** A Redis URL on logical database `db`, which the test file then owns. */
export function redisDatabaseUrl(db: number): string {
  const url = new URL(REDIS_URL);
  url.pathname = `/${db}`;
  return url.toString();
}
