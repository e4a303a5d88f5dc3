/**
 * The read path under failure: a cache that stalls or dies, a saturated pool, a database
 * that restarts. Requests either succeed or get a fast 503 with Retry-After; none hang,
 * and the process recovers by itself.
 */
import { rm } from "node:fs/promises";
import path from "node:path";
import { Redis as RedisClient } from "ioredis";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { migrate } from "../../lib/db/migrate.js";
import { directDb } from "../../lib/db/pool.js";
import { startEmbeddedPostgres, type EmbeddedServer } from "../../lib/local/embedded.js";
import { seedDemoData } from "../../scripts/demo/data.js";
import { startUpstashBridge, type UpstashBridge } from "../fixtures/upstash-bridge.js";
import { useConfig } from "../harness/config.js";
import { SMALL_DEMO, seededDemo, type DemoCallers } from "../harness/demo.js";
import { TEST_DATABASE_URL, TEST_POOLER_URL } from "../harness/file-database.js";
import { freePort, sharedTempDir } from "../harness/net.js";
import { serve, type RunningServer } from "../harness/http.js";
import { startRedisServer, type PrivateRedis } from "../harness/redis-server.js";
import { commandAvailable } from "../harness/services.js";
import { TEST_JWT_SECRET } from "../harness/tokens.js";

/** The restarted server keeps its data folder, and so its superuser's password. */
const PG_PASSWORD = "restart-test-password-0123456789";
let server: RunningServer;
let callers: DemoCallers;
let agentIds: string[];

beforeAll(async () => {
  callers = await seededDemo();
  server = await serve();
  const rows = await directDb()`select id from agents where organization_id = md5('org:1')::uuid order by id`;
  agentIds = rows.map((r) => r.id);
});
afterAll(() => server.close());

interface Outcome {
  status: number;
  ms: number;
  retryAfter: string | null;
}

async function get(path: string): Promise<Outcome> {
  const started = performance.now();
  const response = await fetch(`${server.baseUrl}${path}`, { headers: { authorization: `Bearer ${callers.demo.token}` } });
  await response.arrayBuffer();
  return { status: response.status, ms: performance.now() - started, retryAfter: response.headers.get("retry-after") };
}

/** Requests `paths` in turn until `stop()` says so, at most `limit` of them. */
async function keepRequesting(paths: () => string, stop: () => boolean, limit = 2000): Promise<Outcome[]> {
  const outcomes: Outcome[] = [];
  while (!stop() && outcomes.length < limit) outcomes.push(await get(paths()));
  return outcomes;
}

const hasRedisServer = commandAvailable("redis-server");

describe.skipIf(!hasRedisServer)("the cache stalls, then dies, mid-run", () => {
  let redis: PrivateRedis;
  let bridge: UpstashBridge;

  beforeAll(async () => {
    redis = await startRedisServer(await freePort());
    bridge = await startUpstashBridge(redis.url);
    // The Upstash driver's own failure handling is under test: every lookup goes to it (no first level in front).
    await useConfig({ SUPABASE_JWT_SECRET: TEST_JWT_SECRET, UPSTASH_REDIS_REST_URL: bridge.url, UPSTASH_REDIS_REST_TOKEN: bridge.token, CACHE_L1_TTL_MS: "0" });
  });
  afterAll(async () => {
    await bridge.close();
    await redis.stop();
    await useConfig({ UPSTASH_REDIS_REST_URL: "", UPSTASH_REDIS_REST_TOKEN: "", CACHE_L1_TTL_MS: "" });
  });

  it("serves hits from Redis through the Upstash driver, the entry and its TTL in Redis itself", async () => {
    const id = agentIds[0] ?? "";
    const headers = { authorization: `Bearer ${callers.demo.token}` };
    const first = await fetch(`${server.baseUrl}/api/agents/${id}`, { headers });
    const second = await fetch(`${server.baseUrl}/api/agents/${id}`, { headers });
    expect([first.headers.get("x-cache"), second.headers.get("x-cache")]).toEqual(["miss", "hit"]);
    expect(await second.json()).toEqual(await first.json());
    const redisClient = new RedisClient(redis.url);
    const ttl = await redisClient.ttl(`agent:v1:${id}`);
    redisClient.disconnect();
    expect(ttl).toBeGreaterThan(250);
    expect(ttl).toBeLessThanOrEqual(330);
  });

  it("answers every request with 200 from the database, each within the cache timeout", async () => {
    const logged = vi.spyOn(console, "log").mockImplementation(() => undefined);
    let i = 0;
    const path = () => `/api/agents/${agentIds[i++ % agentIds.length]}`;
    const warm = await keepRequesting(path, () => false, 40);
    expect(warm.every((o) => o.status === 200)).toBe(true);
    expect(bridge.commands.length).toBeGreaterThan(0);

    redis.stall();
    const stalled = await keepRequesting(path, () => false, 30);
    redis.resume();
    await redis.stop();
    const dead = await keepRequesting(path, () => false, 30);

    for (const outcome of [...stalled, ...dead]) {
      expect(outcome.status).toBe(200);
      expect(outcome.ms).toBeLessThan(1500);
    }
    const warnings = logged.mock.calls.map((c) => String(c[0])).filter((line) => line.includes("cache unavailable"));
    expect(warnings.length).toBeGreaterThanOrEqual(1);
    expect(warnings.length).toBeLessThanOrEqual(2);
    logged.mockRestore();
  });
});

describe("the pool is exhausted by slow requests", () => {
  afterAll(() => useConfig({ DB_POOL_MAX: "", DB_CONNECTION_TIMEOUT: "", DB_STATEMENT_TIMEOUT: "" }));

  it("answers requests beyond capacity with 503 and Retry-After within the connection timeout, none hang, then recovers", async () => {
    vi.spyOn(console, "error").mockImplementation(() => undefined);
    await useConfig({ DB_POOL_MAX: "2", DB_CONNECTION_TIMEOUT: "400", DB_STATEMENT_TIMEOUT: "1000" });
    await get(`/api/agents/${agentIds[0]}`); // the caller's memberships are now cached
    const locker = postgres(TEST_DATABASE_URL, { max: 1, onnotice: () => undefined });
    let release: () => void = () => undefined;
    const held = locker.begin(async (tx) => {
      await tx`lock table agents in access exclusive mode`;
      await new Promise<void>((resolve) => (release = resolve));
    });
    await new Promise((resolve) => setTimeout(resolve, 100));

    const uncached = () => `/api/agents/${crypto.randomUUID()}`;
    const outcomes = await Promise.all(Array.from({ length: 20 }, () => get(uncached())));
    release();
    await held;
    await locker.end();

    const refused = outcomes.filter((o) => o.status === 503);
    expect(refused.length).toBeGreaterThanOrEqual(18);
    expect(outcomes.every((o) => o.status === 503 || o.status === 404)).toBe(true);
    for (const outcome of refused) expect(outcome.retryAfter).toBe("2");
    // Waiting ones give up after the connection timeout, running ones after timeout + statement timeout.
    expect(Math.max(...outcomes.map((o) => o.ms))).toBeLessThan(2500);
    expect(outcomes.filter((o) => o.ms < 1000).length).toBeGreaterThanOrEqual(18);

    const after = await Promise.all(agentIds.slice(0, 4).map((id) => get(`/api/agents/${id}`)));
    expect(after.map((o) => o.status)).toEqual([200, 200, 200, 200]);
    vi.restoreAllMocks();
  });
});

describe("a request withdrawn from a saturated pool", () => {
  afterAll(() => useConfig({ DB_POOL_MAX: "", DB_CONNECTION_TIMEOUT: "" }));

  /** Holds `table` locked for `ms`, so requests that read it stay on their connection that long. */
  async function lockFor(table: string, ms: number): Promise<() => Promise<void>> {
    const locker = postgres(TEST_DATABASE_URL, { max: 1, onnotice: () => undefined });
    let locked: () => void = () => undefined;
    const isLocked = new Promise<void>((resolve) => (locked = resolve));
    const held = locker.begin(async (tx) => {
      await tx`lock table ${tx(table)} in access exclusive mode`;
      locked();
      await new Promise((resolve) => setTimeout(resolve, ms));
    });
    await isLocked;
    return async () => {
      await held;
      await locker.end();
    };
  }

  it("cancels nothing on its connection: the request after it is answered, 3 times of 3", async () => {
    vi.spyOn(console, "error").mockImplementation(() => undefined);
    await useConfig({ DB_POOL_MAX: "1", DB_CONNECTION_TIMEOUT: "300" });
    const [conversation] = await directDb()`select id from conversations where organization_id = md5('org:1')::uuid order by id limit 1`;
    await get(`/api/agents/${agentIds[0]}`); // the caller's memberships are now cached
    for (let run = 0; run < 3; run++) {
      const agents = await lockFor("agents", 700);
      const messages = await lockFor("conversation_messages", 1300);
      const holding = get(`/api/agents/${crypto.randomUUID()}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect((await get(`/api/agents/${crypto.randomUUID()}`)).status).toBe(503);
      expect((await holding).status).toBe(404);
      // Sent as the withdrawn request's turn comes, and kept running by the second lock: a late cancel would land on it.
      const next = await get(`/api/conversations/${conversation?.id}/messages?limit=1`);
      await Promise.all([agents(), messages()]);
      expect(next.status, `run ${run}`).toBe(200);
    }
    vi.restoreAllMocks();
  });
});

describe("PostgreSQL restarts during requests", () => {
  let dataRoot: string;
  let port: number;
  let database: EmbeddedServer;

  beforeAll(async () => {
    dataRoot = await sharedTempDir("gap-restart-");
    port = await freePort();
    database = await startEmbeddedPostgres({ dataDir: path.join(dataRoot, "data"), port, password: PG_PASSWORD });
    const admin = postgres(database.url, { max: 1, onnotice: () => undefined });
    await migrate(admin);
    await seedDemoData(admin, SMALL_DEMO);
    await admin.end();
    await useConfig({ SUPABASE_JWT_SECRET: TEST_JWT_SECRET, DATABASE_URL: database.url, SUPABASE_POOLER_URL: "", DB_CONNECTION_TIMEOUT: "500" });
  });
  afterAll(async () => {
    await database.stop();
    await rm(dataRoot, { recursive: true, force: true });
    await useConfig({ DATABASE_URL: TEST_DATABASE_URL, SUPABASE_POOLER_URL: TEST_POOLER_URL, DB_CONNECTION_TIMEOUT: "" });
  });

  it("answers 503 while it is down and 200 again once it is back, without a restart of its own", async () => {
    const errors = vi.spyOn(console, "error").mockImplementation(() => undefined);
    type Phase = "before" | "down" | "back";
    let phase = "before" as Phase;
    const seen: Record<Phase, Outcome[]> = { before: [], down: [], back: [] };
    let done = false;
    let inFlight: Promise<unknown> = Promise.resolve();
    const requests = (async () => {
      while (!done) {
        const current = phase;
        const request = get("/api/agents?limit=5");
        inFlight = request;
        seen[current].push(await request);
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, 300));
    phase = "down";
    // A request sent before the phase changed finishes before the server stops: it belongs to "before".
    await inFlight;
    await database.stop();
    await new Promise((resolve) => setTimeout(resolve, 800));
    database = await startEmbeddedPostgres({ dataDir: path.join(dataRoot, "data"), port, password: PG_PASSWORD });
    phase = "back";
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && seen.back.filter((o) => o.status === 200).length < 5) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    done = true;
    await requests;

    const summary = Object.fromEntries(Object.entries(seen).map(([k, v]) => [k, v.map((o) => o.status).join(",")]));
    expect(seen.before.length, JSON.stringify(summary)).toBeGreaterThan(0);
    expect(
      seen.before.every((o) => o.status === 200),
      JSON.stringify(summary),
    ).toBe(true);
    expect(
      seen.down.some((o) => o.status === 503),
      JSON.stringify(summary),
    ).toBe(true);
    for (const outcome of [...seen.before, ...seen.down, ...seen.back]) {
      expect([200, 503]).toContain(outcome.status);
      expect(outcome.ms).toBeLessThan(3000);
    }
    expect(
      seen.back.slice(-5).map((o) => o.status),
      String(errors.mock.calls.at(-1)?.[0]),
    ).toEqual([200, 200, 200, 200, 200]);
    vi.restoreAllMocks();
  });
});
