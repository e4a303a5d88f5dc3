/**
 * Cache drivers behind one narrow interface: Upstash Redis over REST when
 * UPSTASH_REDIS_REST_URL is set, else an in-process map (the local default).
 * Values are strings; the drivers never interpret them.
 */
import type { Redis } from "@upstash/redis";
import { LRUCache } from "lru-cache";
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
  /** Adds 1 to the counter at `key` (0 when absent, then expiring after `ttlSeconds`); returns the new count. */
  increment(key: string, ttlSeconds: number): Promise<number>;
  ping(): Promise<void>;
}

/** A dead cache must cost milliseconds, not the client's default seconds of retries. */
const CACHE_TIMEOUT_MS = 150;

export interface MemoryStoreOptions {
  /** Most entries kept; the least recently used go first. @default 50000 */
  maxEntries?: number;
  /** Most bytes of keys and values kept (two per character, as JavaScript strings may take). @default 64 MiB */
  maxBytes?: number;
  /** How often expired entries are swept out, so memory does not wait for a read of the same key. @default 30000 */
  sweepEveryMs?: number;
  now?: () => number;
}

export interface MemoryStore extends CacheStore {
  /** Entries held now, expired ones not yet swept included. */
  readonly entries: number;
  /** Bytes held now, as counted against maxBytes. */
  readonly bytes: number;
  /** Drops expired entries now (the sweep runs on its own too). */
  sweep(): void;
}

/**
 * The in-process store (`npm start`, a worker, a deployment without Upstash): bounded in
 * entries and bytes, least recently used evicted first, expired entries swept on a timer that
 * does not keep the process alive. An evicted lock only lets a second loader through.
 */
export function memoryStore({ maxEntries = 50_000, maxBytes = 64 * 1024 * 1024, sweepEveryMs = 30_000, now = Date.now }: MemoryStoreOptions = {}): MemoryStore {
  const entries = new LRUCache<string, string>({
    max: maxEntries,
    maxSize: maxBytes,
    sizeCalculation: (value, key) => 2 * (value.length + key.length) || 1,
    perf: { now },
    // Read the clock at every check: a cached reading would serve an expired lock for up to 1 ms.
    ttlResolution: 0,
  });
  const live = (key: string): string | null => entries.get(key) ?? null;
  const put = (key: string, value: string, ttlMs: number) => entries.set(key, value, { ttl: Math.max(1, ttlMs) });
  setInterval(() => entries.purgeStale(), sweepEveryMs).unref();
  return {
    driver: "memory",
    get entries() {
      return entries.size;
    },
    get bytes() {
      return entries.calculatedSize;
    },
    sweep: () => void entries.purgeStale(),
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
    async increment(key, ttlSeconds) {
      const current = live(key);
      if (current === null) {
        put(key, "1", ttlSeconds * 1000);
        return 1;
      }
      const count = Number(current) + 1;
      entries.set(key, String(count), { noUpdateTTL: true });
      return count;
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

const INCREMENT = `
local count = redis.call('incr', KEYS[1])
if count == 1 then redis.call('expire', KEYS[1], tonumber(ARGV[1])) end
return count`;

export interface UpstashOptions {
  url: string;
  token: string;
  timeoutMs?: number;
}

/** The Upstash store; its client is loaded by the first call, so a process on the memory store never loads it. */
export function upstashStore({ url, token, timeoutMs = CACHE_TIMEOUT_MS }: UpstashOptions): CacheStore {
  let client: Promise<Redis> | undefined;
  const redis = () =>
    (client ??= import("@upstash/redis").then(
      ({ Redis }) =>
        new Redis({
          url,
          token,
          retry: { retries: 0 },
          // Values are our own strings: the client must hand them back untouched, not JSON-parsed.
          automaticDeserialization: false,
          enableTelemetry: false,
          signal: () => AbortSignal.timeout(timeoutMs),
        }),
    ));
  return {
    driver: "upstash",
    mget: async (keys) => (await redis()).mget<Array<string | null>>(...keys),
    async set(key, value, ttlSeconds) {
      await (await redis()).set(key, value, { ex: ttlSeconds });
    },
    async del(keys) {
      await (await redis()).del(...keys);
    },
    async acquireLock(key, lockToken, ttlMs) {
      return (await (await redis()).set(key, lockToken, { nx: true, px: ttlMs })) === "OK";
    },
    async setIfLockHeld(key, value, ttlSeconds, lockKey, lockToken) {
      const stored = await (await redis()).eval(SET_IF_LOCK_HELD, [key, lockKey], [lockToken, value, String(ttlSeconds)]);
      return Number(stored) === 1;
    },
    async increment(key, ttlSeconds) {
      return Number(await (await redis()).eval(INCREMENT, [key], [String(ttlSeconds)]));
    },
    async ping() {
      await (await redis()).ping();
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
