import { Redis as RedisClient } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { memoryStore, upstashStore, type CacheStore } from "../../../lib/cache/store.js";
import { startUpstashBridge, type UpstashBridge } from "../../fixtures/upstash-bridge.js";
import { redisAvailable, redisDatabaseUrl } from "../../harness/services.js";

const REDIS_DB = 11;
const hasRedis = await redisAvailable();

/** The contract every driver keeps. */
function storeContract(name: string, makeStore: () => CacheStore, advanceTime: (ms: number) => Promise<void>) {
  describe(`${name} store`, () => {
    let store: CacheStore;
    beforeAll(() => {
      store = makeStore();
    });

    it("returns values untouched, JSON-looking ones included, and null for absent keys", async () => {
      const values = ['{"a":1}', "123", "true", "null", "olá ✓ \u{1F600}", " spaced "];
      for (const [i, value] of values.entries()) await store.set(`${name}:v${i}`, value, 60);
      const read = await store.mget([...values.map((_, i) => `${name}:v${i}`), `${name}:missing`]);
      expect(read).toEqual([...values, null]);
    });

    it("expires entries after their TTL and deletes on demand", async () => {
      await store.set(`${name}:short`, "x", 1);
      await store.set(`${name}:gone`, "y", 60);
      await store.del([`${name}:gone`]);
      await advanceTime(1100);
      expect(await store.mget([`${name}:short`, `${name}:gone`])).toEqual([null, null]);
    });

    it("gives a lock to one holder until it expires", async () => {
      expect(await store.acquireLock(`${name}:lock`, "a", 500)).toBe(true);
      expect(await store.acquireLock(`${name}:lock`, "b", 500)).toBe(false);
      await advanceTime(600);
      expect(await store.acquireLock(`${name}:lock`, "b", 500)).toBe(true);
    });

    it("fills only while the lock still holds the filler's token, and releases it", async () => {
      await store.acquireLock(`${name}:fill:lock`, "mine", 5000);
      expect(await store.setIfLockHeld(`${name}:fill`, "v1", 60, `${name}:fill:lock`, "theirs")).toBe(false);
      expect(await store.setIfLockHeld(`${name}:fill`, "v1", 60, `${name}:fill:lock`, "mine")).toBe(true);
      expect(await store.mget([`${name}:fill`, `${name}:fill:lock`])).toEqual(["v1", null]);

      await store.acquireLock(`${name}:fill:lock`, "again", 5000);
      await store.del([`${name}:fill`, `${name}:fill:lock`]);
      expect(await store.setIfLockHeld(`${name}:fill`, "stale", 60, `${name}:fill:lock`, "again")).toBe(false);
      expect(await store.mget([`${name}:fill`])).toEqual([null]);
    });

    it("counts up from 1, the window starting at the first increment and not moved by later ones", async () => {
      expect(await store.increment(`${name}:count`, 1)).toBe(1);
      await advanceTime(600);
      expect(await store.increment(`${name}:count`, 1)).toBe(2);
      expect(await store.increment(`${name}:count`, 1)).toBe(3);
      await advanceTime(600);
      expect(await store.increment(`${name}:count`, 1)).toBe(1);
    });
  });
}

let clock = 1_000_000;
storeContract(
  "memory",
  () => memoryStore({ now: () => clock }),
  async (ms) => {
    clock += ms;
  },
);

describe("memory store bounds", () => {
  it("keeps at most its entries whatever the keys (random agent ids), least recently used out first", async () => {
    const store = memoryStore({ maxEntries: 1000 });
    await store.set("kept", "read often", 300);
    for (let i = 0; i < 20_000; i++) {
      await store.set(`agent:v1:${crypto.randomUUID()}`, `org ${"x".repeat(200)}`, 300);
      if (i % 500 === 0) await store.mget(["kept"]);
    }
    expect(store.entries).toBe(1000);
    expect(await store.mget(["kept"])).toEqual(["read often"]);
  });

  it("keeps at most its bytes, whatever the size of the values", async () => {
    const store = memoryStore({ maxEntries: 100_000, maxBytes: 1024 * 1024 });
    for (let i = 0; i < 200; i++) await store.set(`big:${i}`, "y".repeat(20_000), 300);
    expect(store.bytes).toBeLessThanOrEqual(1024 * 1024);
    expect(store.entries).toBeLessThan(30);
  });

  it("frees expired entries without their keys being read again", async () => {
    let now = 5_000_000;
    const store = memoryStore({ now: () => now });
    for (let i = 0; i < 5000; i++) await store.set(`negative:${i}`, "\u0000absent", 30);
    await store.set("long", "lives", 600);
    now += 31_000;
    store.sweep();
    expect(store.entries).toBe(1);
    expect(await store.mget(["long"])).toEqual(["lives"]);
  });
});

describe.skipIf(!hasRedis)("upstash driver through an Upstash-compatible bridge to a real Redis", () => {
  let bridge: UpstashBridge;
  let redis: RedisClient;
  beforeAll(async () => {
    redis = new RedisClient(redisDatabaseUrl(REDIS_DB));
    await redis.flushdb();
    bridge = await startUpstashBridge(redisDatabaseUrl(REDIS_DB));
  });
  afterAll(async () => {
    await bridge.close();
    redis.disconnect();
  });

  // The contract is about meaning, not speed: a loaded machine must not fail it on the 150 ms default.
  const patient = (token = bridge.token) => upstashStore({ url: bridge.url, token, timeoutMs: 2000 });
  storeContract(
    "upstash",
    () => patient(),
    (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  );

  it("stores with the TTL asked, in Redis itself", async () => {
    await patient().set("ttl-check", "x", 300);
    const ttl = await redis.ttl("ttl-check");
    expect(ttl).toBeGreaterThan(295);
    expect(ttl).toBeLessThanOrEqual(300);
  });

  it("fails within its timeout, not the client's seconds of retries, when Redis stalls", async () => {
    const store = upstashStore({ url: bridge.url, token: bridge.token, timeoutMs: 100 });
    bridge.stall(true);
    const started = Date.now();
    await expect(store.mget(["any"])).rejects.toThrow();
    expect(Date.now() - started).toBeLessThan(1000);
    bridge.stall(false);
  });

  it("is refused with a wrong token", async () => {
    await expect(patient("wrong").mget(["any"])).rejects.toThrow(/Unauthorized/);
  });
});
