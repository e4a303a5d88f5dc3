/**
 * `npm run bench:cold-start`: each built function's cold start, from the real `vercel build`
 * output (.vercel/output/functions): a new Node process that imports the function's handler
 * and answers one real request, from spawn to the answer, against a database it has never
 * connected to. Each is shown beside a built function that imports nothing, as the ratio of
 * the two medians. Goal (issue 13): the agent, messages and health functions at 2x or less.
 */
import { spawn } from "node:child_process";
import { access, mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import postgres from "postgres";
import { DEMO_USER, seedDemoData } from "../scripts/demo/data.js";
import { signedAccessToken } from "../lib/auth/tokens.js";
import { migrate } from "../lib/db/migrate.js";
import { startEmbeddedPostgres } from "../lib/local/embedded.js";
import { scheduleEntries } from "../lib/jobs/schedules.js";
import { freePort, sharedTempDir } from "../test/harness/net.js";
import { qstashSignature } from "../test/harness/qstash.js";
import { median } from "./server-process.js";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
/** The build to measure: this checkout's, or BENCH_VERCEL_OUTPUT (another checkout's, to compare). */
const OUTPUT = process.env.BENCH_VERCEL_OUTPUT ?? path.join(ROOT, ".vercel/output/functions");
const RUNS = Number(process.env.BENCH_RUNS ?? 10);
const SECRET = "bench-jwt-secret-0123456789abcdef";
const CRON_SECRET = "bench-cron-secret-0123456789abcdef";
const METRICS_TOKEN = "bench-metrics-token-0123456789";
const ADMIN_TOKEN = "bench-admin-token-0123456789abcdef";
const QSTASH_CURRENT_SIGNING_KEY = "bench-signing-key-0123456789abcdef";
const BASE = "https://bench.example";

/** Imports the handler, answers one request, prints its status; exits at once (no idle pool kept). */
const RUNNER = `
const [file, method, url, header, value] = process.argv.slice(1);
const mod = await import(file);
const handler = mod[method] ?? mod.default?.[method] ?? mod.default;
const response = await handler(new Request(url, { method, headers: header ? { [header]: value } : {} }));
await response.arrayBuffer();
process.stdout.write(response.status + "\\n");
process.exit(0);
`;

const EMPTY_FUNCTION = `export const GET = () => Response.json({ ok: true });\n`;

function log(message: string): void {
  process.stderr.write(`${message}\n`);
}

/** A request to time: its credential as one header (name, value), or none. */
interface BenchRequest {
  method: string;
  url: string;
  header: [string, string] | [];
}

/** Milliseconds from spawn to the answer's status line, and that status. */
function coldStart(file: string, { method, url, header }: BenchRequest, env: Record<string, string>): Promise<{ ms: number; status: number }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, ["--input-type=module", "-e", RUNNER, pathToFileURL(file).href, method, url, ...header], {
      env: { PATH: process.env.PATH ?? "", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdout.once("data", (chunk: Buffer) => resolve({ ms: performance.now() - started, status: Number(chunk.toString().trim()) }));
    child.once("exit", (code) => code !== 0 && reject(new Error(`${file} exited with ${code}: ${stderr}`)));
  });
}

/** Every built function directory under `dir`, as its route (api/agents/[id]). */
async function functionsIn(dir: string, prefix = ""): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const route = path.posix.join(prefix, entry.name);
    if (entry.name.endsWith(".func")) found.push(route.slice(0, -".func".length));
    else found.push(...(await functionsIn(path.join(dir, entry.name), route)));
  }
  return found.sort();
}

async function main(): Promise<void> {
  try {
    await access(OUTPUT);
  } catch {
    throw new Error("no .vercel/output: build the functions first with `npx vercel@58.10.0 build --yes` (what .ci/run does)");
  }
  const dataRoot = await sharedTempDir("gap-bench-cold-");
  const database = await startEmbeddedPostgres({ dataDir: path.join(dataRoot, "data"), port: await freePort(), persistent: false });
  try {
    const sql = postgres(database.url, { max: 1, onnotice: () => undefined });
    await migrate(sql);
    await seedDemoData(sql, { organizations: 2, usersPerOrganization: 2, agents: 20, conversations: 4, messages: 200 });
    const [agent] = await sql<{ id: string }[]>`select id from agents where organization_id = md5('org:1')::uuid order by id limit 1`;
    const [conversation] = await sql<{ id: string }[]>`select id from conversations where organization_id = md5('org:1')::uuid order by id limit 1`;
    await sql.end();
    const token = `Bearer ${await signedAccessToken(SECRET, { userId: DEMO_USER.id })}`;
    const env = {
      DATABASE_URL: database.url,
      SUPABASE_JWT_SECRET: SECRET,
      CRON_SECRET,
      METRICS_TOKEN,
      ADMIN_TOKEN,
      LOCAL_DATA_DIR: dataRoot,
      DB_POOL_PROFILE: "serverless",
      PUBLIC_URL: BASE,
      QSTASH_CURRENT_SIGNING_KEY,
      QSTASH_NEXT_SIGNING_KEY: `${QSTASH_CURRENT_SIGNING_KEY}-next`,
    };
    /** The request each function answers: real ids and each one's own credential (a schedule QStash runs: its signed POST, as deployed). */
    const requestOf = async (route: string): Promise<BenchRequest> => {
      // Vercel hands a dynamic segment to its function as a query parameter of that name.
      const params = new URLSearchParams();
      if (route === "api/agents/[id]") params.set("id", agent?.id ?? "");
      if (route === "api/conversations/[id]/messages") params.set("id", conversation?.id ?? "");
      if (route === "api/ops/statements/[id]") params.set("id", "1");
      if (route === "api/ops/sessions/[pid]") params.set("pid", "1");
      if (route === "api/conversations/[id]/messages") params.set("limit", "50");
      const query = params.size ? `?${params.toString()}` : "";
      const url = `${BASE}/${route.replace(/\/index$/, "")}${query}`;
      const bearer = (secret: string): [string, string] => ["authorization", `Bearer ${secret}`];
      const schedule = scheduleEntries().find((entry) => entry.path === `/${route}`);
      if (schedule?.trigger === "qstash")
        return { method: "POST", url, header: ["upstash-signature", await qstashSignature(QSTASH_CURRENT_SIGNING_KEY, url, "")] };
      if (schedule) return { method: "GET", url, header: bearer(CRON_SECRET) };
      if (route === "api/metrics") return { method: "GET", url, header: bearer(METRICS_TOKEN) };
      if (route.startsWith("api/ops/sessions/")) return { method: "POST", url, header: bearer(ADMIN_TOKEN) };
      if (route.startsWith("api/ops/") || route.startsWith("api/admin/")) return { method: "GET", url, header: bearer(ADMIN_TOKEN) };
      if (route.startsWith("api/jobs/")) return { method: "POST", url, header: [] };
      return { method: "GET", url, header: ["authorization", token] };
    };

    const emptyDir = path.join(dataRoot, "empty.func");
    await mkdir(emptyDir, { recursive: true });
    const emptyFile = path.join(emptyDir, "index.mjs");
    await writeFile(emptyFile, EMPTY_FUNCTION);

    /** BENCH_ONLY=api/health,api/agents/[id]: just those. */
    const only = process.env.BENCH_ONLY?.split(",");
    const routes = (await functionsIn(OUTPUT)).filter((route) => !only || only.includes(route));
    const emptyRequest: BenchRequest = { method: "GET", url: `${BASE}/api/empty`, header: [] };
    /**
     * The function's and the empty function's cold starts taken in turns, so a machine that
     * slows down or speeds up during the run weighs on both alike; medians of each.
     */
    const measured = async (file: string, request: BenchRequest) => {
      await coldStart(file, request, env); // disk cache warm
      const runs: number[] = [];
      const emptyRuns: number[] = [];
      let status = 0;
      for (let i = 0; i < RUNS; i++) {
        emptyRuns.push((await coldStart(emptyFile, emptyRequest, env)).ms);
        const run = await coldStart(file, request, env);
        runs.push(run.ms);
        status = run.status;
      }
      return { ms: median(runs), emptyMs: median(emptyRuns), status };
    };
    log(`measuring ${routes.length} functions, ${RUNS} cold starts each in turns with the empty function`);
    const rows: string[] = [];
    const emptyMedians: number[] = [];
    for (const route of routes) {
      const dir = path.join(OUTPUT, `${route}.func`);
      const config = JSON.parse(await readFile(path.join(dir, ".vc-config.json"), "utf8")) as { handler: string };
      const request = await requestOf(route);
      const result = await measured(path.join(dir, config.handler), request);
      emptyMedians.push(result.emptyMs);
      const ratio = result.ms / result.emptyMs;
      const key = ["api/agents/[id]", "api/conversations/[id]/messages", "api/health"].includes(route);
      rows.push(
        `| ${key ? `**${route}**` : route} | ${request.method} | ${result.status} | ${result.ms.toFixed(1)} | ${result.emptyMs.toFixed(1)} | ${key ? `**${ratio.toFixed(2)}x**` : `${ratio.toFixed(2)}x`} |`,
      );
    }
    const empty = { ms: median(emptyMedians) };
    console.log("## Cold start (`npm run bench:cold-start`)\n");
    console.log(
      `Each function of \`.vercel/output\` (vercel build) in a new Node ${process.version} process: import the handler, answer one real request ` +
        `against an embedded PostgreSQL it has not connected to yet, exit; spawn to answer, median of ${RUNS} after one warm-up run, ` +
        `each run beside one of a built function that imports nothing (median of its medians: **${empty.ms.toFixed(1)} ms**); the ratio is of the two medians. ` +
        `In bold, the three the goal names (2x or less).\n`,
    );
    console.log("| function | request | status | cold start, ms | empty function, ms | ratio |");
    console.log("| --- | --- | ---: | ---: | ---: | ---: |");
    for (const row of rows) console.log(row);
  } finally {
    await database.stop();
    await rm(dataRoot, { recursive: true, force: true });
  }
}

await main();
