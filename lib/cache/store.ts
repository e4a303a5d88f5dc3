/**
 * Cache drivers behind one narrow interface: Upstash Redis over REST when
 * UPSTASH_REDIS_REST_URL is set, else an in-process map (the local default).
 * Values are strings; the drivers never interpret them.
 */
import { Redis } from "@upstash/redis";
import { config } from "../config.js";

export interface CacheStore {
  readonly driver: "upstash" | "memory";
  /** Values of `keys`, null where absent, in one round trip. */
  mget(keys: string[]): Promise<Array<string | null>>;
  set(key: string, value: string, ttlSeconds: number): Promise<void>;
  del(keys: string[]): Promise<void>;
  /** Sets `key` to `token` for `ttlMs` unless it exists: true when this caller now holds the lock. */
  acquireLock(key: string, token: string, ttlMs: number): Promise<boolean>;
  /**
   * Stores `value` only while `lockKey` still holds `token`, and releases the lock: a writer
   * that invalidated the entry (deleting the lock too) in between makes the fill a no-op.
   */
  setIfLockHeld(key: string, value: string, ttlSeconds: number, lockKey: string, token: string): Promise<boolean>;
  ping(): Promise<void>;
}

/** A dead cache must cost milliseconds, not the client's default seconds of retries. */
export const CACHE_TIMEOUT_MS = 150;

export function memoryStore(now: () => number = Date.now): CacheStore {
  const entries = new Map<string, { value: string; expiresAt: number }>();
  const live = (key: string): string | null => {
    const entry = entries.get(key);
    if (!entry) return null;
    if (entry.expiresAt > now()) return entry.value;
    entries.delete(key);
    return null;
  };
  const put = (key: string, value: string, ttlMs: number) => entries.set(key, { value, expiresAt: now() + ttlMs });
  return {
    driver: "memory",
    async mget(keys) {
      return keys.map(live);
    },
    async set(key, value, ttlSeconds) {
      put(key, value, ttlSeconds * 1000);
    },
    async del(keys) {
      for (const key of keys) entries.delete(key);
    },
    async acquireLock(key, token, ttlMs) {
      if (live(key) !== null) return false;
      put(key, token, ttlMs);
      return true;
    },
    async setIfLockHeld(key, value, ttlSeconds, lockKey, token) {
      if (live(lockKey) !== token) return false;
      put(key, value, ttlSeconds * 1000);
      entries.delete(lockKey);
      return true;
    },
    async ping() {},
  };
}

const SET_IF_LOCK_HELD = `
if redis.call('get', KEYS[2]) == ARGV[1] then
  redis.call('set', KEYS[1], ARGV[2], 'EX', tonumber(ARGV[3]))
  redis.call('del', KEYS[2])
  return 1
end
return 0`;

export interface UpstashOptions {
  url: string;
  token: string;
  timeoutMs?: number;
}

export function upstashStore({ url, token, timeoutMs = CACHE_TIMEOUT_MS }: UpstashOptions): CacheStore {
  const redis = new Redis({
    url,
    token,
    retry: { retries: 0 },
    // Values are our own strings: the client must hand them back untouched, not JSON-parsed.
    automaticDeserialization: false,
    enableTelemetry: false,
    signal: () => AbortSignal.timeout(timeoutMs),
  });
  return {
    driver: "upstash",
    mget: (keys) => redis.mget<Array<string | null>>(...keys),
    async set(key, value, ttlSeconds) {
      await redis.set(key, value, { ex: ttlSeconds });
    },
    async del(keys) {
      await redis.del(...keys);
    },
    async acquireLock(key, lockToken, ttlMs) {
      return (await redis.set(key, lockToken, { nx: true, px: ttlMs })) === "OK";
    },
    async setIfLockHeld(key, value, ttlSeconds, lockKey, lockToken) {
      const stored = await redis.eval(SET_IF_LOCK_HELD, [key, lockKey], [lockToken, value, String(ttlSeconds)]);
      return Number(stored) === 1;
    },
    async ping() {
      await redis.ping();
    },
  };
}

let store: CacheStore | undefined;

/** The configured cache store of this instance. */
export function cacheStore(): CacheStore {
  if (!store) {
    const upstash = config().upstash;
    store = upstash ? upstashStore(upstash) : memoryStore();
  }
  return store;
}

/** Forgets the instance's store, so the next call follows the configuration again. */
export function resetCacheStore(): void {
  store = undefined;
}
