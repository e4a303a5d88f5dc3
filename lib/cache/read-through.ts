/**
 * Filling a cache entry on a miss, without a stampede: concurrent misses for one key in an
 * instance share one load (single-flight), and across instances a short lock lets one load
 * while the others wait briefly for its value. A fill lands only while its lock is held,
 * so an invalidation that comes between the load and the fill wins.
 */
import { randomUUID } from "node:crypto";
import type { FailOpenCache } from "./fail-open.js";

/** Stored for a key whose value does not exist (the negative cache). */
export const ABSENT = "\u0000absent";

export interface ReadThroughOptions {
  /** @default 300 */
  ttlSeconds?: number;
  /** TTLs spread by ± this share, so entries filled together do not expire together. @default 0.1 */
  jitterRatio?: number;
  /** @default 30 */
  negativeTtlSeconds?: number;
  /** @default 3000 */
  lockTtlMs?: number;
  /** How long a miss waits for another instance's fill before loading itself. @default 300 */
  waitForFillMs?: number;
  /** @default 20 */
  pollMs?: number;
}

export interface ReadThrough {
  /** The key's value (ABSENT when `load` finds nothing), loaded at most once at a time per instance. */
  load(key: string, load: () => Promise<string | undefined>): Promise<string>;
  /** Drops the entry and any fill lock, so in-flight fills are discarded. */
  invalidate(key: string): Promise<boolean>;
}

const lockKeyOf = (key: string) => `${key}:lock`;

export function readThrough(
  cache: FailOpenCache,
  { ttlSeconds = 300, jitterRatio = 0.1, negativeTtlSeconds = 30, lockTtlMs = 3000, waitForFillMs = 300, pollMs = 20 }: ReadThroughOptions = {},
): ReadThrough {
  const flights = new Map<string, Promise<string>>();

  const ttlFor = (value: string) =>
    value === ABSENT ? negativeTtlSeconds : Math.max(1, Math.round(ttlSeconds * (1 - jitterRatio + 2 * jitterRatio * Math.random())));

  async function filledByOther(key: string): Promise<string | null> {
    const deadline = Date.now() + waitForFillMs;
    while (Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, pollMs));
      const [value] = await cache.mget([key]);
      if (value) return value;
    }
    return null;
  }

  async function fill(key: string, load: () => Promise<string | undefined>): Promise<string> {
    const token = randomUUID();
    const lock = await cache.acquireLock(lockKeyOf(key), token, lockTtlMs);
    if (lock === "held") {
      const other = await filledByOther(key);
      if (other) return other;
    }
    const value = (await load()) ?? ABSENT;
    if (lock === "acquired") await cache.setIfLockHeld(key, value, ttlFor(value), lockKeyOf(key), token);
    return value;
  }

  return {
    load(key, load) {
      let flight = flights.get(key);
      if (!flight) {
        flight = fill(key, load).finally(() => flights.delete(key));
        flights.set(key, flight);
      }
      return flight;
    },
    invalidate: (key) => cache.del([key, lockKeyOf(key)]),
  };
}
