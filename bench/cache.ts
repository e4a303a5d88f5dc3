/**
 * `npm run bench:cache`: what the in-process first level in front of Upstash saves (issue 24).
 * A private Redis behind the Upstash-protocol bridge (which counts the commands it receives),
 * reached through a proxy holding each chunk ONE_WAY_MS each way (a 2 ms round trip, Upstash in
 * the region). Four platform servers in their own processes: the memory driver; Upstash with
 * the first level (two of them: "another instance"); Upstash without it. It reports:
 * - Upstash commands per 1,000 lookups of one hot agent on one instance (goal <= 10);
 * - how long another instance's write takes to show on this one (goal within 2 s);
 * - the median latency of a cached lookup over HTTP against the memory driver's (goal within 1.5x).
 */
import type { ChildProcess } from "node:child_process";
import { rm } from "node:fs/promises";
import path from "node:path";
import postgres from "postgres";
import { DEMO_USER, seedDemoData } from "../scripts/demo/data.js";
import { signedAccessToken } from "../lib/auth/tokens.js";
import { migrate } from "../lib/db/migrate.js";
import { startEmbeddedPostgres } from "../lib/local/embedded.js";
import { startUpstashBridge } from "../test/fixtures/upstash-bridge.js";
import { startDelayProxy } from "../test/harness/delay-proxy.js";
import { freePort, sharedTempDir } from "../test/harness/net.js";
import { startRedisServer } from "../test/harness/redis-server.js";
import { median, startServer } from "./server-process.js";

const SECRET = "bench-jwt-secret-0123456789abcdef";
const ONE_WAY_MS = Number(process.env.BENCH_ONE_WAY_MS ?? 1);
const LOOKUPS = 1000;
const LATENCY_SAMPLES = 400;

function log(message: string): void {
  process.stderr.write(`${message}\n`);
}

async function request(url: string, token: string, init: RequestInit = {}): Promise<{ ms: number; body: string }> {
  const started = performance.now();
  const response = await fetch(url, { ...init, headers: { authorization: `Bearer ${token}`, "content-type": "application/json", ...init.headers } });
  const body = await response.text();
  if (!response.ok) throw new Error(`${url} answered ${response.status}: ${body}`);
  return { ms: performance.now() - started, body };
}

async function main(): Promise<void> {
  const dataRoot = await sharedTempDir("gap-bench-cache-");
  const database = await startEmbeddedPostgres({ dataDir: path.join(dataRoot, "data"), port: await freePort(), persistent: false });
  const redis = await startRedisServer(await freePort());
  const bridge = await startUpstashBridge(redis.url);
  const bridgeUrl = new URL(bridge.url);
  const proxy = await startDelayProxy({ host: bridgeUrl.hostname, port: Number(bridgeUrl.port) }, ONE_WAY_MS);
  const servers: ChildProcess[] = [];
  try {
    const sql = postgres(database.url, { max: 2, onnotice: () => undefined });
    await migrate(sql);
    await seedDemoData(sql, { organizations: 2, usersPerOrganization: 2, agents: 50, conversations: 4, messages: 100 });
    await sql`insert into organization_members (organization_id, user_id, role) select id, ${DEMO_USER.id}, 'member' from organizations on conflict do nothing`;
    const [agent] = await sql<{ id: string }[]>`select id from agents order by id limit 1`;
    await sql.end();
    const id = agent?.id ?? "";
    const token = await signedAccessToken(SECRET, { userId: DEMO_USER.id });
    const env = { DATABASE_URL: database.url, SUPABASE_JWT_SECRET: SECRET, DB_POOL_PROFILE: "worker", LOCAL_DATA_DIR: dataRoot };
    const upstash = { UPSTASH_REDIS_REST_URL: `http://127.0.0.1:${proxy.port}`, UPSTASH_REDIS_REST_TOKEN: bridge.token };
    const start = async (extra: Record<string, string>) => {
      const { port, child } = await startServer(["platform"], { ...env, ...extra });
      servers.push(child);
      return `http://127.0.0.1:${port}`;
    };
    const memory = await start({ UPSTASH_REDIS_REST_URL: "", UPSTASH_REDIS_REST_TOKEN: "" });
    const layered = await start({ ...upstash, CACHE_L1_TTL_MS: "1000" });
    const other = await start({ ...upstash, CACHE_L1_TTL_MS: "1000" });
    const direct = await start({ ...upstash, CACHE_L1_TTL_MS: "0" });
    const lookup = (base: string) => request(`${base}/api/agents/${id}`, token);
    for (const base of [memory, layered, other, direct]) for (let i = 0; i < 20; i++) await lookup(base);

    log(`commands: ${LOOKUPS} lookups of one hot agent on one instance, with and without the first level`);
    const commandsOf = async (base: string) => {
      bridge.commands.length = 0;
      const started = performance.now();
      for (let i = 0; i < LOOKUPS; i++) await lookup(base);
      return { commands: bridge.commands.length, seconds: (performance.now() - started) / 1000 };
    };
    const withLevel = await commandsOf(layered);
    const without = await commandsOf(direct);

    log("staleness: another instance renames the agent; how long until this one shows it");
    const stalenessMs: number[] = [];
    for (let round = 0; round < 5; round++) {
      const name = `Renamed ${round}`;
      for (let i = 0; i < 5; i++) await lookup(layered);
      const started = performance.now();
      await request(`${other}/api/agents/${id}`, token, { method: "PATCH", body: JSON.stringify({ name }) });
      const shown = async () => (JSON.parse((await lookup(layered)).body) as { name?: string }).name === name;
      while (!(await shown())) {
        if (performance.now() - started > 10_000) throw new Error("another instance's write never showed");
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      stalenessMs.push(performance.now() - started);
    }

    log("latency: a cached lookup over HTTP, one at a time, the three ways, alternating");
    const samples: Record<"memory" | "layered" | "direct", number[]> = { memory: [], layered: [], direct: [] };
    for (let i = 0; i < LATENCY_SAMPLES; i++) {
      samples.memory.push((await lookup(memory)).ms);
      samples.layered.push((await lookup(layered)).ms);
      samples.direct.push((await lookup(direct)).ms);
    }
    const [m, l, d] = [median(samples.memory), median(samples.layered), median(samples.direct)];

    console.log("## The first level in front of Upstash (`npm run bench:cache`)\n");
    console.log(
      `Embedded PostgreSQL 15; Upstash played by a private Redis behind the Upstash-protocol bridge, reached through a proxy holding each chunk ${ONE_WAY_MS} ms each way (${2 * ONE_WAY_MS} ms round trip); each platform server in its own process, CACHE_L1_TTL_MS 1000; the same cached agent, one request at a time.\n`,
    );
    console.log("| | Upstash commands per 1,000 lookups | lookups/s | median ms (HTTP) |");
    console.log("| --- | ---: | ---: | ---: |");
    console.log(`| memory driver | – | – | ${m.toFixed(2)} |`);
    console.log(`| Upstash with the first level | **${withLevel.commands}** | ${(LOOKUPS / withLevel.seconds).toFixed(0)} | ${l.toFixed(2)} |`);
    console.log(`| Upstash without it (CACHE_L1_TTL_MS=0) | ${without.commands} | ${(LOOKUPS / without.seconds).toFixed(0)} | ${d.toFixed(2)} |`);
    console.log("");
    console.log(`- Upstash commands per 1,000 lookups of one hot agent: **${withLevel.commands}** (goal <= 10; without the first level ${without.commands})`);
    console.log(
      `- another instance's write shown here after **${Math.max(...stalenessMs).toFixed(0)} ms** at most (${stalenessMs.map((ms) => ms.toFixed(0)).join(", ")}; goal within 2 s)`,
    );
    console.log(`- cached lookup with the first level / memory driver: **${(l / m).toFixed(2)}x** (goal <= 1.5x); without it ${(d / m).toFixed(2)}x`);
  } finally {
    for (const child of servers) child.kill("SIGTERM");
    await proxy.close();
    await bridge.close();
    await redis.stop();
    await database.stop();
    await rm(dataRoot, { recursive: true, force: true });
  }
}

await main();
