/**
 * Cache drivers behind one narrow interface: Upstash Redis over REST when
 * UPSTASH_REDIS_REST_URL is set, else an in-process map (the local default).
 */
import { Redis } from "@upstash/redis";
import { config } from "../config.js";

export interface CacheStore {
  readonly driver: "upstash" | "memory";
  get(key: string): Promise<string | null>;
  set(key: string, value: string, ttlSeconds: number): Promise<void>;
  del(key: string): Promise<void>;
  ping(): Promise<void>;
}

/** A dead cache must cost milliseconds, not the client's default seconds of retries. */
export const CACHE_TIMEOUT_MS = 150;

export function memoryStore(now: () => number = Date.now): CacheStore {
  const entries = new Map<string, { value: string; expiresAt: number }>();
  return {
    driver: "memory",
    async get(key) {
      const entry = entries.get(key);
      if (!entry) return null;
      if (entry.expiresAt <= now()) {
        entries.delete(key);
        return null;
      }
      return entry.value;
    },
    async set(key, value, ttlSeconds) {
      entries.set(key, { value, expiresAt: now() + ttlSeconds * 1000 });
    },
    async del(key) {
      entries.delete(key);
    },
    async ping() {},
  };
}

export function upstashStore(url: string, token: string, timeoutMs = CACHE_TIMEOUT_MS): CacheStore {
  const redis = new Redis({
    url,
    token,
    retry: { retries: 0 },
    // Values are our own JSON strings: the client must hand them back untouched.
    automaticDeserialization: false,
    enableTelemetry: false,
    signal: () => AbortSignal.timeout(timeoutMs),
  });
  return {
    driver: "upstash",
    get: (key) => redis.get<string>(key),
    async set(key, value, ttlSeconds) {
      await redis.set(key, value, { ex: ttlSeconds });
    },
    async del(key) {
      await redis.del(key);
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
    store = upstash ? upstashStore(upstash.url, upstash.token) : memoryStore();
  }
  return store;
}
