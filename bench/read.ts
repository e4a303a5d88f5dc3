/**
 * `npm run bench:read [-- --against <git ref>]`: the read path's figures, on an embedded
 * PostgreSQL 15 it starts and seeds (1,000,000 messages in one conversation, 10,000 agents).
 * Prints a Markdown report. The cached lookup is measured three ways: over HTTP beside a bare
 * node:http server returning the same bytes, the handler alone (called in this process with a
 * Web Request, as Vercel's Node runtime calls it: what production pays), and with --against,
 * beside an earlier commit's build in alternating rounds (bench/against.ts).
 */
import type { ChildProcess } from "node:child_process";
import { mkdtemp, rm, writeFile, chmod } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import autocannon from "autocannon";
import postgres from "postgres";
import type { Pool as Sql } from "../lib/db/pool.js";
import { DEMO_USER, seedDemoData } from "../scripts/demo/data.js";
import { signedAccessToken } from "../lib/auth/tokens.js";
import { agentWithWorkflows } from "../lib/data/agents.js";
import { messagesPageQuery } from "../lib/data/messages.js";
import { migrate } from "../lib/db/migrate.js";
import { startEmbeddedPostgres } from "../lib/local/embedded.js";
import { overrideConfig } from "../lib/config.js";
import { closeDbPools } from "../lib/db/pool.js";
import { againstBuild, startAgainstServer, type AgainstBuild } from "./against.js";
import { medianMs, startServer } from "./server-process.js";

const SECRET = "bench-jwt-secret-0123456789abcdef";
const DURATION_S = 5;
const ROUNDS = 5;
const CONNECTIONS = 50;
const PAGE = 50;
const DEEP_PAGE = 10_000;

function log(message: string): void {
  process.stderr.write(`${message}\n`);
}

interface Load {
  rps: number;
  p50: number;
  p99: number;
  non2xx: number;
  requests: number;
}

async function load(url: string, token: string, options: { paths?: () => string; amount?: number }): Promise<Load> {
  const started = performance.now();
  const result = await autocannon({
    url,
    connections: CONNECTIONS,
    ...(options.amount ? { amount: options.amount } : { duration: DURATION_S }),
    headers: { authorization: `Bearer ${token}` },
    ...(options.paths ? { requests: [{ setupRequest: (request: autocannon.Request) => ({ ...request, path: options.paths?.() ?? "/" }) }] } : {}),
  });
  return {
    // autocannon reports whole seconds; a run of a fixed amount needs the real elapsed time.
    rps: Math.round(result.requests.total / ((performance.now() - started) / 1000)),
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    requests: result.requests.total,
  };
}

async function agentQueryCalls(sql: Sql): Promise<number> {
  const [row] = await sql`
    select coalesce(sum(calls), 0)::int as calls
    from pg_stat_statements
    where query like '%from agents a%' and query like '%where a.id = $1%'`;
  return row?.calls ?? 0;
}

/** The seed's lookup, one statement per step: the agent, its workflow ids, then each workflow. */
async function naiveLookup(sql: Sql, agentId: string): Promise<unknown> {
  const [agent] = await sql`select * from agents where id = ${agentId}`;
  const ids = await sql`select id from agent_workflows where agent_id = ${agentId} order by position`;
  const workflows = [];
  for (const { id } of ids) workflows.push((await sql`select * from agent_workflows where id = ${id}`)[0]);
  return { ...agent, workflows };
}

/** Milliseconds the database's statements have spent executing, all of them (pg_stat_statements). */
async function statementMilliseconds(sql: Sql): Promise<number> {
  const [row] = await sql<{ ms: number }[]>`
    select coalesce(sum(total_exec_time), 0)::float8 as ms from pg_stat_statements
    where dbid = (select oid from pg_database where datname = current_database()) and query not like '%pg_stat_activity%'`;
  return row?.ms ?? 0;
}

/** Samples, every 20 ms until stopped, how many of the database's backends are running a statement; stop() gives their mean. */
function activeBackends(sql: Sql): { stop: () => Promise<number> } {
  const samples: number[] = [];
  let running = true;
  const sampling = (async () => {
    while (running) {
      const [row] = await sql<{ active: number }[]>`
        select count(*)::int as active from pg_stat_activity
        where datname = current_database() and state = 'active' and pid <> pg_backend_pid()`;
      samples.push(row?.active ?? 0);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await sampling;
      return samples.reduce((sum, n) => sum + n, 0) / Math.max(samples.length, 1);
    },
  };
}

async function throughput(run: () => Promise<unknown>, concurrency: number, seconds: number): Promise<number> {
  let done = 0;
  const until = performance.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < until) {
        await run();
        done++;
      }
    }),
  );
  return Math.round(done / seconds);
}

interface HandlerTiming {
  /** Microseconds per call, the median of 5 rounds of 20,000 calls, one after another. */
  microseconds: number;
  rounds: number[];
}

async function timedCalls(handler: (request: Request) => Promise<Response>, token: string, agentIds: string[]): Promise<HandlerTiming> {
  let next = 0;
  const call = async () => {
    const id = agentIds[next++ % agentIds.length] ?? "";
    const response = await handler(new Request(`http://localhost/api/agents/${id}?id=${id}`, { headers: { authorization: `Bearer ${token}` } }));
    if (response.status !== 200) throw new Error(`the handler answered ${response.status}`);
    await response.text();
  };
  for (let i = 0; i < 2000; i++) await call();
  const rounds: number[] = [];
  for (let round = 0; round < 5; round++) {
    const calls = 20_000;
    const started = performance.now();
    for (let i = 0; i < calls; i++) await call();
    rounds.push(Math.round(((performance.now() - started) * 1000 * 10) / calls) / 10);
  }
  return { microseconds: [...rounds].sort((a, b) => a - b)[2] ?? 0, rounds };
}

/**
 * The cached handler alone, called in this process with a Web Request as Vercel's Node runtime
 * calls it, beside a function that only answers the same bytes: the difference is the handler's own work.
 */
async function handlerAlone(token: string, agentIds: string[], body: string): Promise<{ handler: HandlerTiming; objects: HandlerTiming }> {
  const { GET } = await import("../api/agents/[id].js");
  const handler = await timedCalls(GET, token, agentIds);
  const objects = await timedCalls(
    () => Promise.resolve(new Response(body, { headers: { "content-type": "application/json", "x-cache": "hit" } })),
    token,
    agentIds,
  );
  return { handler, objects };
}

const { values: options } = parseArgs({ options: { against: { type: "string" } } });
let against: AgainstBuild | undefined;
try {
  against = options.against ? await againstBuild(options.against, log) : undefined;
} catch (error) {
  console.error(`error: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
const dataRoot = await mkdtemp(path.join(tmpdir(), "gap-bench-"));
await chmod(dataRoot, 0o755);
log("starting embedded PostgreSQL 15");
const database = await startEmbeddedPostgres({ dataDir: path.join(dataRoot, "data"), port: 55000 + Math.floor(Math.random() * 5000) });
const children: ChildProcess[] = [];
try {
  const sql = postgres(database.url, { max: 10, onnotice: () => undefined });
  await migrate(sql);
  log("seeding 10,000 agents and 1,000,000 messages in one conversation");
  const seedStarted = performance.now();
  await seedDemoData(sql, { organizations: 10, usersPerOrganization: 4, agents: 10_000, conversations: 1, messages: 1_000_000 });
  const seedSeconds = ((performance.now() - seedStarted) / 1000).toFixed(1);
  // Let autovacuum find nothing to do: on two cores it would compete with the runs below.
  await sql`vacuum analyze`;
  await sql`checkpoint`;
  await sql`create extension if not exists pg_stat_statements`;

  // The demo user joins every organization, so all 10,000 agents are its to read.
  await sql`
    insert into organization_members (organization_id, user_id, role)
    select id, ${DEMO_USER.id}, 'member' from organizations
    on conflict do nothing`;
  const agents = await sql<{ id: string }[]>`
    select id from agents where organization_id in (
      select organization_id from organization_members where user_id = ${DEMO_USER.id}) order by id`;
  const agentIds = agents.map((a) => a.id);
  const token = await signedAccessToken(SECRET, { userId: DEMO_USER.id });
  const env = { DATABASE_URL: database.url, SUPABASE_JWT_SECRET: SECRET, DB_POOL_PROFILE: "worker", LOCAL_DATA_DIR: dataRoot };

  const platform = await startServer(["platform"], env);
  children.push(platform.child);
  const base = `http://127.0.0.1:${platform.port}`;
  const hotIds = agentIds.slice(0, 100);
  for (const id of hotIds) await fetch(`${base}/api/agents/${id}`, { headers: { authorization: `Bearer ${token}` } });
  const sampleBody = await (await fetch(`${base}/api/agents/${hotIds[0]}`, { headers: { authorization: `Bearer ${token}` } })).text();
  const bodyFile = path.join(dataRoot, "agent.json");
  await writeFile(bodyFile, sampleBody);
  const bare = await startServer(["bare", bodyFile], env);
  children.push(bare.child);
  const earlier = against ? await startAgainstServer(against, ["platform"], env) : undefined;
  if (earlier) {
    children.push(earlier.child);
    for (const id of hotIds) await fetch(`http://127.0.0.1:${earlier.port}/api/agents/${id}`, { headers: { authorization: `Bearer ${token}` } });
  }

  // Ceiling and cached runs alternate, in pairs: on two cores a single run of either swings
  // with whatever else the machine does, so the ratio is the median of each pair's ratio.
  const ceilings: Load[] = [];
  const cachedRuns: Load[] = [];
  const earlierRuns: Load[] = [];
  let queriesOnHits = 0;
  let hot = 0;
  const paths = () => `/api/agents/${hotIds[hot++ % hotIds.length]}`;
  for (let round = 1; round <= ROUNDS; round++) {
    log(`load ${round}/${ROUNDS}: bare node:http ceiling, then cached GET /api/agents/:id${earlier ? `, then ${against?.ref}'s build` : ""}`);
    // Every server gets the same requests, bearer token included: only the server differs.
    ceilings.push(await load(`http://127.0.0.1:${bare.port}`, token, { paths }));
    const before = await agentQueryCalls(sql);
    cachedRuns.push(await load(base, token, { paths }));
    queriesOnHits += (await agentQueryCalls(sql)) - before;
    if (earlier) earlierRuns.push(await load(`http://127.0.0.1:${earlier.port}`, token, { paths }));
  }
  const median = (runs: Load[]) => [...runs].sort((a, b) => a.rps - b.rps)[Math.floor(runs.length / 2)] as Load;
  const ceiling = median(ceilings);
  const cached = median(cachedRuns);
  const pairRatios = cachedRuns.map((run, index) => run.rps / (ceilings[index]?.rps ?? Infinity)).sort((a, b) => a - b);
  const cachedRatio = pairRatios[Math.floor(pairRatios.length / 2)] ?? 0;
  const earlierRatios = earlierRuns.map((run, index) => (cachedRuns[index]?.rps ?? 0) / run.rps).sort((a, b) => a - b);
  const earlierRatio = earlierRatios[Math.floor(earlierRatios.length / 2)] ?? 0;
  log("load: uncached GET /api/agents/:id (every request a different agent)");
  const cold = agentIds.slice(hotIds.length);
  // Open the pool's connections first: their logins are not what this run measures.
  const warmup = cold.splice(0, 200);
  await Promise.all(warmup.map((id) => fetch(`${base}/api/agents/${id}`, { headers: { authorization: `Bearer ${token}` } })));
  let next = 0;
  const beforeUncached = await agentQueryCalls(sql);
  // The capacity check (db:inspect capacity): Little's law over the run against the backends seen busy.
  const statementMsBefore = await statementMilliseconds(sql);
  const sampler = activeBackends(sql);
  const uncachedStarted = performance.now();
  const uncached = await load(base, token, { paths: () => `/api/agents/${cold[next++ % cold.length]}`, amount: cold.length });
  const uncachedSeconds = (performance.now() - uncachedStarted) / 1000;
  const sampledBusy = await sampler.stop();
  const littleBusy = ((await statementMilliseconds(sql)) - statementMsBefore) / 1000 / uncachedSeconds;
  const queriesOnMisses = (await agentQueryCalls(sql)) - beforeUncached;

  log("stampede: 200 concurrent requests for one cold agent");
  const [fresh] = await sql<{ id: string }[]>`
    insert into agents (organization_id, name, model)
    select organization_id, 'Stampede target', 'gpt-4o' from organization_members where user_id = ${DEMO_USER.id} limit 1
    returning id`;
  const stampedeId = fresh?.id ?? "";
  const beforeStampede = await agentQueryCalls(sql);
  const statuses = await Promise.all(
    Array.from({ length: 200 }, () => fetch(`${base}/api/agents/${stampedeId}`, { headers: { authorization: `Bearer ${token}` } }).then((r) => r.status)),
  );
  const stampedeQueries = (await agentQueryCalls(sql)) - beforeStampede;

  log("the cached handler alone, in this process");
  overrideConfig({ DATABASE_URL: database.url, SUPABASE_JWT_SECRET: SECRET, DB_POOL_PROFILE: "worker", LOCAL_DATA_DIR: dataRoot });
  const alone = await handlerAlone(token, hotIds, sampleBody);
  const serverMicroseconds = Math.round((1_000_000 / cached.rps) * 10) / 10;

  log("database: one-statement lookup vs the naive N+1 lookup");
  const pool = postgres(database.url, { max: 20, onnotice: () => undefined });
  let i = 0;
  const oneStatement = await throughput(() => agentWithWorkflows(pool, agentIds[i++ % agentIds.length] ?? ""), 20, 5);
  const naive = await throughput(() => naiveLookup(pool, agentIds[i++ % agentIds.length] ?? ""), 20, 5);

  log("messages: page 1 vs page 10,000 by cursor vs by OFFSET");
  const [conversation] = await sql<{ id: string }[]>`select id from conversations limit 1`;
  const conversationId = conversation?.id ?? "";
  const [deep] = await sql<{ created_at: string; id: string }[]>`
    select api_timestamp(created_at) as created_at, id from conversation_messages
    where conversation_id = ${conversationId} order by created_at desc, id desc offset ${DEEP_PAGE * PAGE - 1} limit 1`;
  const after = { createdAt: deep?.created_at ?? "", id: deep?.id ?? "" };
  const firstPage = await medianMs(() => messagesPageQuery(pool, conversationId, { window: { limit: PAGE + 1 } }), 50);
  const deepCursor = await medianMs(() => messagesPageQuery(pool, conversationId, { window: { limit: PAGE + 1, after } }), 50);
  const deepOffset = await medianMs(
    () => pool`
      select m.id, m.conversation_id, m.role, m.content, m.metadata, m.created_at
      from conversation_messages m where m.conversation_id = ${conversationId}
      order by m.created_at desc, m.id desc offset ${DEEP_PAGE * PAGE} limit ${PAGE + 1}`,
    7,
  );
  await pool.end();
  await sql.end();

  const ratio = (a: number, b: number) => (b === 0 ? "∞" : (a / b).toFixed(2));
  const report = [
    `## Read path (\`npm run bench:read\`)`,
    "",
    `Embedded PostgreSQL 15, 10,000 agents, 1,000,000 messages in one conversation (seeded in ${seedSeconds} s).`,
    `HTTP load: autocannon, ${CONNECTIONS} connections, ${DURATION_S} s (the uncached run: each agent once), the same requests (path and bearer token) to every server, each server in its own process; in-memory cache driver; worker pool profile (20 connections).`,
    "",
    "| agent lookup over HTTP | requests/s | p50 ms | p99 ms | non-2xx |",
    "| --- | ---: | ---: | ---: | ---: |",
    `| bare node:http, same JSON (ceiling; median of ${ceilings.map((r) => r.rps).join(", ")}) | ${ceiling.rps} | ${ceiling.p50} | ${ceiling.p99} | ${ceiling.non2xx} |`,
    `| cached GET /api/agents/:id (median of ${cachedRuns.map((r) => r.rps).join(", ")}) | ${cached.rps} | ${cached.p50} | ${cached.p99} | ${cached.non2xx} |`,
    `| uncached GET /api/agents/:id (each of ${uncached.requests} agents once) | ${uncached.rps} | ${uncached.p50} | ${uncached.p99} | ${uncached.non2xx} |`,
    ...(earlier && against
      ? [
          `| ${against.ref} (${against.commit.slice(0, 12)}), its build, cached (median of ${earlierRuns.map((r) => r.rps).join(", ")}) | ${median(earlierRuns).rps} | ${median(earlierRuns).p50} | ${median(earlierRuns).p99} | ${median(earlierRuns).non2xx} |`,
        ]
      : []),
    "",
    `- cached / ceiling: **${cachedRatio.toFixed(2)}**, the median of each pair's ratio (${pairRatios.map((r) => r.toFixed(2)).join(", ")}) (goal ≥ 0.60)`,
    ...(earlier && against
      ? [
          `- this build / ${against.ref}'s: **${earlierRatio.toFixed(2)}**, the median of each round's ratio (${earlierRatios.map((r) => r.toFixed(2)).join(", ")}); below 1 is a regression`,
        ]
      : []),
    `- the handler alone, what a request costs on Vercel (GET of api/agents/[id].ts called in this process with a Web Request, as Vercel's Node runtime calls it; one call after another, median of 5 rounds of 20,000: ${alone.handler.rounds.join(", ")} µs): **${alone.handler.microseconds} µs** per cached lookup, of which ${alone.objects.microseconds} µs is the Request and Response objects themselves (a function answering the same bytes at once); the local server: ${serverMicroseconds} µs per request under load (1 / requests/s)`,
    `- database queries during the cached run: **${queriesOnHits}** (goal 0); during the uncached run: ${queriesOnMisses} for ${uncached.requests} requests (one per miss: the counter works)`,
    `- capacity, checked on the uncached run: Little's law as \`db:inspect -- capacity\` applies it (statement time / elapsed time, from pg_stat_statements) says **${littleBusy.toFixed(2)}** connections busy; pg_stat_activity sampled every 20 ms saw **${sampledBusy.toFixed(2)}** running a statement on average (${(sampledBusy / Math.max(littleBusy, 0.001)).toFixed(2)}x: what lies between statements, and planning, is not in the statements' time)`,
    `- 200 concurrent requests for one cold agent: **${stampedeQueries}** agent quer${stampedeQueries === 1 ? "y" : "ies"} (goal 1), statuses ${[...new Set(statuses)].join(", ")}`,
    "",
    "| agent + workflows from the database, 20 concurrent, 5 s | round trips | lookups/s |",
    "| --- | ---: | ---: |",
    `| one statement (json_agg) | 1 | ${oneStatement} |`,
    `| naive N+1 (agent, workflow ids, each workflow) | 5 | ${naive} |`,
    "",
    `- one statement / naive: **${ratio(oneStatement, naive)}×**`,
    "",
    `| messages, ${PAGE} per page, median | ms |`,
    "| --- | ---: |",
    `| page 1 | ${firstPage} |`,
    `| page ${DEEP_PAGE.toLocaleString("en")} by cursor | ${deepCursor} |`,
    `| page ${DEEP_PAGE.toLocaleString("en")} by OFFSET | ${deepOffset} |`,
    "",
    `- deep cursor / page 1: **${ratio(deepCursor, firstPage)}** (goal ≤ 2)`,
    `- OFFSET / deep cursor: **${ratio(deepOffset, deepCursor)}×** (goal ≥ 100)`,
  ].join("\n");
  console.log(report);
} finally {
  for (const child of children) child.kill("SIGTERM");
  await closeDbPools(0);
  await database.stop();
  await rm(dataRoot, { recursive: true, force: true });
  await against?.remove();
}
