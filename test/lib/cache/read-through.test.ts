import { describe, expect, it, vi } from "vitest";
import { failOpen } from "../../../lib/cache/fail-open.js";
import { ABSENT, readThrough } from "../../../lib/cache/read-through.js";
import { memoryStore, type CacheStore } from "../../../lib/cache/store.js";
import { agentCacheEvents } from "../../../lib/metrics/registry.js";

function slowLoad(value: string | undefined, ms = 50) {
  const load = vi.fn(async () => {
    await new Promise((resolve) => setTimeout(resolve, ms));
    return value;
  });
  return load;
}

/** A store whose every operation fails, as a Redis outage looks to the client. */
const brokenStore: CacheStore = {
  driver: "upstash",
  mget: async () => {
    throw new Error("ECONNREFUSED with value secret-payload");
  },
  set: async () => {
    throw new Error("down");
  },
  del: async () => {
    throw new Error("down");
  },
  increment: async () => {
    throw new Error("down");
  },
  acquireLock: async () => {
    throw new Error("down");
  },
  setIfLockHeld: async () => {
    throw new Error("down");
  },
  ping: async () => {
    throw new Error("down");
  },
};

describe("readThrough", () => {
  it("loads a key once however many misses arrive together in an instance", async () => {
    const cache = readThrough(failOpen(memoryStore()));
    const load = slowLoad("value");
    const results = await Promise.all(Array.from({ length: 100 }, () => cache.load("k", load)));
    expect(new Set(results)).toEqual(new Set(["value"]));
    expect(load).toHaveBeenCalledTimes(1);
  });

  it("lets one instance load while another waits for its fill (the lock across instances)", async () => {
    const shared = failOpen(memoryStore());
    const first = readThrough(shared);
    const second = readThrough(shared);
    const loadA = slowLoad("from-a", 80);
    const loadB = slowLoad("from-b", 80);
    const [a, b] = await Promise.all([first.load("k", loadA), second.load("k", loadB)]);
    expect([a, b]).toEqual(["from-a", "from-a"]);
    expect(loadB).not.toHaveBeenCalled();
  });

  it("stores ABSENT for a missing value, briefly", async () => {
    const store = memoryStore();
    const cache = readThrough(failOpen(store), { negativeTtlSeconds: 30 });
    expect(await cache.load("missing", async () => undefined)).toBe(ABSENT);
    expect(await store.mget(["missing"])).toEqual([ABSENT]);
  });

  it("discards a fill that an invalidation overtook, so stale data is not cached", async () => {
    const store = memoryStore();
    const cache = readThrough(failOpen(store));
    let release: () => void = () => undefined;
    const loading = cache.load("k", () => new Promise((resolve) => (release = () => resolve("old"))));
    await new Promise((resolve) => setTimeout(resolve, 10));
    await cache.invalidate("k");
    release();
    expect(await loading).toBe("old");
    expect(await store.mget(["k"])).toEqual([null]);
  });

  it("spreads TTLs by the jitter ratio", async () => {
    const ttls: number[] = [];
    const store = memoryStore();
    const recording: CacheStore = {
      ...store,
      setIfLockHeld: (key, value, ttl, lockKey, token) => {
        ttls.push(ttl);
        return store.setIfLockHeld(key, value, ttl, lockKey, token);
      },
    };
    const cache = readThrough(failOpen(recording), { ttlSeconds: 300, jitterRatio: 0.1 });
    for (let i = 0; i < 50; i++) await cache.load(`k${i}`, async () => "v");
    expect(Math.min(...ttls)).toBeGreaterThanOrEqual(270);
    expect(Math.max(...ttls)).toBeLessThanOrEqual(330);
    expect(new Set(ttls).size).toBeGreaterThan(5);
  });
});

describe("failOpen", () => {
  it("answers every operation from its fallback when the store fails, counts each and logs once", async () => {
    const warned = vi.spyOn(console, "log").mockImplementation(() => undefined);
    const errorsBefore = new Map(agentCacheEvents.entries()).get("error") ?? 0;
    let clock = 0;
    const cache = failOpen(brokenStore, { openForMs: 2000, now: () => clock });
    expect(await cache.mget(["a", "b"])).toEqual([null, null]);
    clock += 2000;
    expect(await cache.acquireLock("l", "t", 100)).toBe("unavailable");
    clock += 2000;
    expect(await cache.setIfLockHeld("k", "v", 1, "l", "t")).toBe(false);
    clock += 2000;
    expect(await cache.del(["k"])).toBe(false);
    clock += 2000;
    const loaded = await readThrough(cache).load("k", async () => "from-db");
    expect(loaded).toBe("from-db");

    const errorsAfter = new Map(agentCacheEvents.entries()).get("error");
    // four direct operations, and the load's lock attempt (with no lock, it neither waits nor fills)
    expect(errorsAfter).toBe(errorsBefore + 5);
    const lines = warned.mock.calls.map((call) => String(call[0])).filter((line) => line.includes("cache unavailable"));
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toContain("secret-payload");
    warned.mockRestore();
  });

  it("bypasses the cache for a while after a failure, then tries it again", async () => {
    let clock = 0;
    let calls = 0;
    const counting: CacheStore = { ...brokenStore, mget: async (keys) => (calls++, brokenStore.mget(keys)) };
    vi.spyOn(console, "log").mockImplementation(() => undefined);
    const cache = failOpen(counting, { openForMs: 2000, now: () => clock });
    await cache.mget(["a"]);
    clock += 1999;
    for (let i = 0; i < 10; i++) expect(await cache.mget(["a"])).toEqual([null]);
    expect(calls).toBe(1);
    clock += 1;
    await cache.mget(["a"]);
    expect(calls).toBe(2);
    vi.restoreAllMocks();
  });
});
