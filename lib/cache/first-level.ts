/**
 * The in-process first level in front of the shared cache (Upstash): a hot key is read from
 * this instance's memory for at most `ttlMs`, so a warm instance serving many requests asks
 * Upstash once per key and period instead of once per request. Bounded like the memory store
 * (entries and bytes, least recently used first). Staleness is bounded by `ttlMs`: another
 * instance's write reaches this one when its entry expires; this instance's own writes drop the
 * entry at once, and a fill that began before a drop is not kept (read your own writes).
 */
import { LRUCache } from "lru-cache";

export interface FirstLevelOptions {
  ttlMs: number;
  /** @default 50000 */
  maxEntries?: number;
  /** Bytes of keys and values, two per character. @default 64 MiB */
  maxBytes?: number;
  now?: () => number;
}

export interface FirstLevel {
  /** The value held for `key`, or null. */
  get(key: string): string | null;
  /** What `keep` needs to know whether a drop came in between (read before loading). */
  readonly generation: number;
  /** Holds `value` for `key`, unless a drop came after `generation` was read (the value may predate the write that dropped it). */
  keep(key: string, value: string, generation: number): void;
  /** Drops `key` (a write through this instance). */
  drop(key: string): void;
  readonly entries: number;
}

export function firstLevel({ ttlMs, maxEntries = 50_000, maxBytes = 64 * 1024 * 1024, now = Date.now }: FirstLevelOptions): FirstLevel {
  const held = new LRUCache<string, string>({
    max: maxEntries,
    maxSize: maxBytes,
    sizeCalculation: (value, key) => 2 * (value.length + key.length) || 1,
    ttl: Math.max(1, ttlMs),
    perf: { now },
    ttlResolution: 0,
  });
  let generation = 0;
  return {
    get: (key) => held.get(key) ?? null,
    get generation() {
      return generation;
    },
    keep(key, value, since) {
      if (since === generation) held.set(key, value);
    },
    drop(key) {
      generation++;
      held.delete(key);
    },
    get entries() {
      return held.size;
    },
  };
}
