/**
 * `npm run bench:network`: what a request pays per network round trip to the database, through
 * a real PgBouncer in transaction mode (Supabase's pooler on port 6543) behind a proxy that
 * holds each chunk a fixed time each way (bench/delay-proxy.ts). Two platform servers in their
 * own processes, the same in all but their pooler URL: one straight to PgBouncer, one through
 * the proxy. For the uncached agent lookup, a messages page and the health check, one request
 * at a time, it reports the median latency of each and the round trips it spent:
 * (latency through the proxy - latency without it) / round-trip time.
 * Goal (issue 13): 1.0-1.2 round trips each.
 */
import { execFileSync, type ChildProcess } from "node:child_process";
import { rm } from "node:fs/promises";
import path from "node:path";
import postgres from "postgres";
import { DEMO_USER, seedDemoData } from "../scripts/demo/data.js";
import { signedAccessToken } from "../lib/auth/tokens.js";
import { migrate } from "../lib/db/migrate.js";
import { startEmbeddedPostgres } from "../lib/local/embedded.js";
import { freePort, sharedTempDir } from "../test/harness/net.js";
import { startPgbouncer } from "../test/harness/pgbouncer.js";
import { startDelayProxy } from "../test/harness/delay-proxy.js";
import { median, startServer } from "./server-process.js";

const SECRET = "bench-jwt-secret-0123456789abcdef";
const ONE_WAY_MS = Number(process.env.BENCH_ONE_WAY_MS ?? 5);
const RTT_MS = 2 * ONE_WAY_MS;
const SAMPLES = 25;

function pgbouncerVersion(): string {
  return /PgBouncer (\S+)/.exec(execFileSync("pgbouncer", ["--version"]).toString())?.[1] ?? "(unknown version)";
}

function log(message: string): void {
  process.stderr.write(`${message}\n`);
}

async function startPlatform(env: Record<string, string>): Promise<{ base: string; child: ChildProcess }> {
  const { port, child } = await startServer(["platform"], env);
  return { base: `http://127.0.0.1:${port}`, child };
}

/** Milliseconds of one request, which must answer 200. */
async function timed(url: string, token: string): Promise<number> {
  const started = performance.now();
  const response = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  await response.arrayBuffer();
  const ms = performance.now() - started;
  if (response.status !== 200) throw new Error(`${url} answered ${response.status}`);
  return ms;
}

interface Path {
  name: string;
  /** The n-th request's path: the agent lookup asks for a new agent each time, so never from the cache. */
  at: (n: number) => string;
}

async function main(): Promise<void> {
  const dataRoot = await sharedTempDir("gap-bench-network-");
  const database = await startEmbeddedPostgres({ dataDir: path.join(dataRoot, "data"), port: await freePort(), persistent: false });
  const pgbouncer = await startPgbouncer(database.url, await freePort(), "transaction");
  const pooler = new URL(pgbouncer.url);
  const proxy = await startDelayProxy({ host: pooler.hostname, port: Number(pooler.port) }, ONE_WAY_MS);
  const servers: ChildProcess[] = [];
  try {
    const sql = postgres(database.url, { max: 2, onnotice: () => undefined });
    await migrate(sql);
    log("seeding 1,000 agents and 20,000 messages");
    await seedDemoData(sql, { organizations: 2, usersPerOrganization: 2, agents: 1000, conversations: 20, messages: 20_000 });
    await sql`insert into organization_members (organization_id, user_id, role) select id, ${DEMO_USER.id}, 'member' from organizations on conflict do nothing`;
    await sql`vacuum analyze`;
    const agentIds = (await sql<{ id: string }[]>`select id from agents order by id`).map((row) => row.id);
    const [conversation] = await sql<{ id: string }[]>`select id from conversations order by id limit 1`;
    await sql.end();

    const token = await signedAccessToken(SECRET, { userId: DEMO_USER.id });
    const env = {
      DATABASE_URL: database.url,
      SUPABASE_JWT_SECRET: SECRET,
      DB_POOL_PROFILE: "serverless",
      LOCAL_DATA_DIR: dataRoot,
      UPSTASH_REDIS_REST_URL: "",
      UPSTASH_REDIS_REST_TOKEN: "",
    };
    const near = await startPlatform({ ...env, SUPABASE_POOLER_URL: `${pgbouncer.url}/postgres?pgbouncer=true` });
    const far = await startPlatform({
      ...env,
      SUPABASE_POOLER_URL: `postgres://${pooler.username}:${pooler.password}@127.0.0.1:${proxy.port}/postgres?pgbouncer=true`,
    });
    servers.push(near.child, far.child);

    // Each server's agents: half the ids each, so neither reads one the other warmed.
    const half = Math.floor(agentIds.length / 2);
    const agentsOf = (server: "near" | "far") => (server === "near" ? agentIds.slice(0, half) : agentIds.slice(half));
    const paths: Record<"near" | "far", Path[]> = { near: [], far: [] };
    for (const server of ["near", "far"] as const) {
      const ids = agentsOf(server);
      paths[server] = [
        { name: "uncached agent lookup (GET /api/agents/:id)", at: (n) => `/api/agents/${ids[10 + n]}` },
        { name: "messages page (GET /api/conversations/:id/messages?limit=50)", at: () => `/api/conversations/${conversation?.id}/messages?limit=50` },
        { name: "health check (GET /api/health)", at: () => "/api/health" },
      ];
    }
    // Warm both: connections open, memberships cached, code loaded (agents 0-9 are spent here).
    for (const [server, base] of [
      ["near", near.base],
      ["far", far.base],
    ] as const) {
      for (let i = 0; i < 10; i++) await timed(`${base}/api/agents/${agentsOf(server)[i]}`, token);
      for (const p of paths[server].slice(1)) for (let i = 0; i < 3; i++) await timed(`${base}${p.at(i)}`, token);
    }

    const rows: string[] = [];
    for (let index = 0; index < 3; index++) {
      const nearMs: number[] = [];
      const farMs: number[] = [];
      const flightsBefore = proxy.flights();
      for (let n = 0; n < SAMPLES; n++) {
        nearMs.push(await timed(`${near.base}${paths.near[index]?.at(n)}`, token));
        farMs.push(await timed(`${far.base}${paths.far[index]?.at(n)}`, token));
      }
      const flights = (proxy.flights() - flightsBefore) / SAMPLES;
      const serverMs = median(nearMs);
      const latency = median(farMs);
      const roundTrips = (latency - serverMs) / RTT_MS;
      rows.push(`| ${paths.near[index]?.name} | ${serverMs.toFixed(1)} | ${latency.toFixed(1)} | **${roundTrips.toFixed(2)}** | ${flights.toFixed(1)} |`);
    }
    console.log(`## Network round trips (\`npm run bench:network\`)\n`);
    console.log(
      `Embedded PostgreSQL 15 behind PgBouncer ${pgbouncerVersion()} in transaction mode; the platform's pooler URL straight to PgBouncer, or through a proxy holding each chunk ${ONE_WAY_MS} ms each way (${RTT_MS} ms round trip, TCP_NODELAY). One request at a time, ${SAMPLES} each, median; round trips = (through the proxy - without it) / ${RTT_MS} ms. Flights: times per request the platform sent to PgBouncer after it had last heard from it.\n`,
    );
    console.log("| request | without the proxy, ms | through the proxy, ms | round trips | flights |");
    console.log("| --- | ---: | ---: | ---: | ---: |");
    for (const row of rows) console.log(row);
  } finally {
    for (const child of servers) child.kill("SIGTERM");
    await proxy.close();
    await pgbouncer.stop();
    await database.stop();
    await rm(dataRoot, { recursive: true, force: true });
  }
}

await main();
