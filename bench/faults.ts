/**
 * `npm run bench:faults`: the platform under steady load while its database fails, on an
 * embedded PostgreSQL 15 and the local server in a process of its own. Two faults in one run:
 * PostgreSQL stops and starts again; then another client takes every connection slot while the
 * platform's own connections are cut, so it cannot reconnect until the flood ends. Reports the
 * answers other than 200 and 503 (goal 0), the requests that never finished (goal 0), and the
 * seconds from each fault's end to full throughput again. Then the process's memory before and
 * after 380,000 requests for random agent ids (the in-memory cache store must stay bounded).
 */
import type { ChildProcess } from "node:child_process";
import { chmod, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import autocannon from "autocannon";
import postgres from "postgres";
import { DEMO_USER, seedDemoData, DEFAULT_DEMO_SIZES } from "../scripts/demo/data.js";
import { signedAccessToken } from "../lib/auth/tokens.js";
import { migrate } from "../lib/db/migrate.js";
import { startEmbeddedPostgres, type EmbeddedServer } from "../lib/local/embedded.js";
import { startServer } from "./server-process.js";

const SECRET = "bench-jwt-secret-0123456789abcdef";
const PASSWORD = "bench-faults-password-0123456789";
const CONNECTIONS = 20;
const BUCKET_MS = 250;
const MAX_CONNECTIONS = 60;
const RANDOM_ID_REQUESTS = 380_000;

function log(message: string): void {
  process.stderr.write(`${message}\n`);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** autocannon's run: the instance (its events) and its result. */
function loadRun(options: autocannon.Options): { instance: autocannon.Instance; done: Promise<autocannon.Result> } {
  let settle: (error: Error | null, result: autocannon.Result) => void = () => undefined;
  const done = new Promise<autocannon.Result>((resolve, reject) => (settle = (error, result) => (error ? reject(error) : resolve(result))));
  const instance = autocannon(options, (error, result) => settle(error, result));
  return { instance, done };
}

/** Resident memory of a process, from /proc (Linux), in MB. */
async function rssMb(pid: number | undefined): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024;
}

/** Takes every connection slot the server has left, as another client might. */
async function flood(url: string): Promise<{ taken: number; release: () => Promise<void> }> {
  const clients: postgres.Sql[] = [];
  for (;;) {
    const client = postgres(url, { max: 1, onnotice: () => undefined, connect_timeout: 2 });
    const ok = await client`select 1`.then(
      () => true,
      () => false,
    );
    if (!ok) {
      await client.end({ timeout: 0 });
      break;
    }
    clients.push(client);
  }
  return { taken: clients.length, release: () => Promise.all(clients.map((c) => c.end({ timeout: 0 }))).then(() => undefined) };
}

interface Timeline {
  start: number;
  buckets: Map<number, { ok: number; unavailable: number; other: number }>;
}

function record(timeline: Timeline, status: number): void {
  const bucket = Math.floor((performance.now() - timeline.start) / BUCKET_MS);
  const entry = timeline.buckets.get(bucket) ?? { ok: 0, unavailable: 0, other: 0 };
  if (status >= 200 && status < 300) entry.ok++;
  else if (status === 503) entry.unavailable++;
  else entry.other++;
  timeline.buckets.set(bucket, entry);
}

/** Seconds from `fromMs` until one second of 200s at 90 % of the baseline or more. */
function recoverySeconds(timeline: Timeline, fromMs: number, baselinePerSecond: number): number | null {
  const perSecond = 1000 / BUCKET_MS;
  const last = Math.max(...timeline.buckets.keys());
  for (let bucket = Math.floor(fromMs / BUCKET_MS); bucket + perSecond <= last; bucket++) {
    let ok = 0;
    for (let i = 0; i < perSecond; i++) ok += timeline.buckets.get(bucket + i)?.ok ?? 0;
    if (ok >= 0.9 * baselinePerSecond) return Math.max(0, (bucket * BUCKET_MS - fromMs) / 1000);
  }
  return null;
}

function okPerSecond(timeline: Timeline, fromMs: number, toMs: number): number {
  let ok = 0;
  for (let bucket = Math.floor(fromMs / BUCKET_MS); bucket < Math.floor(toMs / BUCKET_MS); bucket++) ok += timeline.buckets.get(bucket)?.ok ?? 0;
  return ok / ((toMs - fromMs) / 1000);
}

const dataRoot = await mkdtemp(path.join(tmpdir(), "gap-bench-faults-"));
await chmod(dataRoot, 0o755);
const port = 55000 + Math.floor(Math.random() * 5000);
const start = (): Promise<EmbeddedServer> =>
  startEmbeddedPostgres({ dataDir: path.join(dataRoot, "data"), port, password: PASSWORD, settings: { max_connections: String(MAX_CONNECTIONS) } });
let database = await start();
const servers: ChildProcess[] = [];
try {
  const admin = postgres(database.url, { max: 1, onnotice: () => undefined });
  await migrate(admin);
  await seedDemoData(admin, { ...DEFAULT_DEMO_SIZES, messages: 60_000 });
  const conversations = (await admin<{ id: string }[]>`select id from conversations where organization_id = md5('org:1')::uuid`).map((r) => r.id);
  await admin.end();
  const token = await signedAccessToken(SECRET, { userId: DEMO_USER.id });
  const env = {
    DATABASE_URL: database.url,
    SUPABASE_JWT_SECRET: SECRET,
    DB_POOL_PROFILE: "worker",
    DB_CONNECTION_TIMEOUT: "1000",
    UPSTASH_REDIS_REST_URL: "",
    UPSTASH_REDIS_REST_TOKEN: "",
  };

  log("load with faults: PostgreSQL restart at 6 s, a connection flood from 18 s to 23 s");
  const server = await startServer(["platform"], env, { stderr: "ignore" });
  servers.push(server.child);
  const timeline: Timeline = { start: performance.now(), buckets: new Map() };
  let i = 0;
  const load = loadRun({
    url: `http://127.0.0.1:${server.port}`,
    connections: CONNECTIONS,
    duration: 32,
    timeout: 10,
    headers: { authorization: `Bearer ${token}` },
    requests: [{ setupRequest: (request) => ({ ...request, path: `/api/conversations/${conversations[i++ % conversations.length]}/messages?limit=20` }) }],
  });
  load.instance.on("response", (_client, status) => record(timeline, status));
  const at = (seconds: number) => sleep(Math.max(0, timeline.start + seconds * 1000 - performance.now()));
  await at(6);
  const stopped = performance.now() - timeline.start;
  await database.stop();
  await at(9);
  database = await start();
  const restarted = performance.now() - timeline.start;
  await at(18);
  // One connection to cut with, every other slot taken; then the platform's connections are
  // cut and the slots they free taken too, so it cannot reconnect until the flood ends.
  const cutter = postgres(database.url, { max: 1, onnotice: () => undefined });
  await cutter`select 1`;
  const taken = await flood(database.url);
  await cutter`select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'gpt-agent-platform'`;
  const second = await flood(database.url);
  const flooded = performance.now() - timeline.start;
  await at(23);
  await Promise.all([taken.release(), second.release(), cutter.end({ timeout: 0 })]);
  const released = performance.now() - timeline.start;
  const result = await load.done;

  const baseline = okPerSecond(timeline, 1000, stopped);
  const totals = [...timeline.buckets.values()].reduce(
    (sum, b) => ({ ok: sum.ok + b.ok, unavailable: sum.unavailable + b.unavailable, other: sum.other + b.other }),
    { ok: 0, unavailable: 0, other: 0 },
  );
  const duringFlood = [...timeline.buckets.entries()]
    .filter(([bucket]) => bucket * BUCKET_MS >= flooded && bucket * BUCKET_MS < released)
    .reduce((sum, [, b]) => sum + b.unavailable, 0);
  const unfinished = result.timeouts + result.errors;
  const afterRestart = recoverySeconds(timeline, restarted, baseline);
  const afterFlood = recoverySeconds(timeline, released, baseline);

  log(`random agent ids: ${RANDOM_ID_REQUESTS} requests against a fresh server`);
  const fresh = await startServer(["platform"], env, { stderr: "ignore" });
  servers.push(fresh.child);
  const before = await rssMb(fresh.child.pid);
  const random = await autocannon({
    url: `http://127.0.0.1:${fresh.port}`,
    connections: 50,
    amount: RANDOM_ID_REQUESTS,
    timeout: 10,
    headers: { authorization: `Bearer ${token}` },
    requests: [{ setupRequest: (request) => ({ ...request, path: `/api/agents/${crypto.randomUUID()}` }) }],
  });
  const after = await rssMb(fresh.child.pid);

  console.log(
    [
      "## Load with faults (`npm run bench:faults`)",
      "",
      `Embedded PostgreSQL 15 (max_connections ${MAX_CONNECTIONS}); the local server in its own process (worker pool, 20 connections); autocannon, ${CONNECTIONS} connections, 32 s of uncached message pages (one statement each).`,
      `PostgreSQL stopped at ${(stopped / 1000).toFixed(1)} s and back at ${(restarted / 1000).toFixed(1)} s; a flood took ${taken.taken} then ${second.taken} connection slots, with the platform's connections cut, from ${(flooded / 1000).toFixed(1)} s to ${(released / 1000).toFixed(1)} s.`,
      "",
      "| figure | value | goal |",
      "| --- | ---: | ---: |",
      `| requests answered | ${totals.ok + totals.unavailable + totals.other} (${totals.ok} × 200, ${totals.unavailable} × 503) | |`,
      `| answers other than 200 and 503 | **${totals.other}** | 0 |`,
      `| requests that never finished (timeouts, socket errors) | **${unfinished}** | 0 |`,
      `| throughput before the faults | ${Math.round(baseline)} requests/s | |`,
      `| seconds from PostgreSQL back to full throughput (90 % of it) | **${afterRestart === null ? "never" : afterRestart.toFixed(2)}** | |`,
      `| 503s while the flood held every slot | ${duringFlood} | |`,
      `| seconds from the flood's end to full throughput | **${afterFlood === null ? "never" : afterFlood.toFixed(2)}** | |`,
      "",
      `Then ${RANDOM_ID_REQUESTS.toLocaleString("en")} requests for random agent ids (each a miss and a negative cache entry) against a fresh server: resident memory **${before.toFixed(0)} MB before, ${after.toFixed(0)} MB after** (${random.non2xx} answers other than 2xx, all 404s expected: ${random.statusCodeStats?.["404"]?.count ?? 0} × 404).`,
    ].join("\n"),
  );
} finally {
  for (const child of servers) child.kill("SIGTERM");
  await database.stop();
  await rm(dataRoot, { recursive: true, force: true });
}
