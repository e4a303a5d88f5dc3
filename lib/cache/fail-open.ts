/**
 * The cache must never fail a request: an operation that errors or times out counts the
 * error, logs it once per outage and returns a fallback, so the caller goes to the database.
 * After a failure the cache is bypassed for a short while (the circuit is open), so an
 * outage costs one timeout, not one per operation of every request; then one operation
 * tries the cache again.
 */
import { log } from "../log.js";
import { agentCacheEvents } from "../metrics/registry.js";
import type { CacheStore } from "./store.js";

export type LockResult = "acquired" | "held" | "unavailable";

export interface FailOpenCache {
  mget(keys: string[]): Promise<Array<string | null>>;
  del(keys: string[]): Promise<boolean>;
  acquireLock(key: string, token: string, ttlMs: number): Promise<LockResult>;
  setIfLockHeld(key: string, value: string, ttlSeconds: number, lockKey: string, token: string): Promise<boolean>;
}

export interface FailOpenOptions {
  /** How long the cache is bypassed after a failure. @default 2000 */
  openForMs?: number;
  now?: () => number;
}

export function failOpen(store: CacheStore, { openForMs = 2000, now = Date.now }: FailOpenOptions = {}): FailOpenCache {
  let outage = false;
  let openUntil = 0;
  async function attempt<T>(operation: string, run: () => Promise<T>, fallback: T): Promise<T> {
    if (now() < openUntil) {
      agentCacheEvents.inc("bypass");
      return fallback;
    }
    try {
      const result = await run();
      outage = false;
      return result;
    } catch (error) {
      openUntil = now() + openForMs;
      agentCacheEvents.inc("error");
      if (!outage) {
        outage = true;
        // The driver's message may quote the command and its values: only name the failure.
        log.warn("cache unavailable, serving from the database", {
          driver: store.driver,
          operation,
          error: error instanceof Error ? error.name : "unknown",
        });
      }
      return fallback;
    }
  }
  return {
    mget: (keys) =>
      attempt(
        "mget",
        () => store.mget(keys),
        keys.map(() => null),
      ),
    del: (keys) => attempt("del", () => store.del(keys).then(() => true), false),
    acquireLock: (key, token, ttlMs) =>
      attempt<LockResult>("lock", async () => ((await store.acquireLock(key, token, ttlMs)) ? "acquired" : "held"), "unavailable"),
    setIfLockHeld: (key, value, ttlSeconds, lockKey, token) => attempt("fill", () => store.setIfLockHeld(key, value, ttlSeconds, lockKey, token), false),
  };
}
