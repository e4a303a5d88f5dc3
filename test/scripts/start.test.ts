/**
 * `npm start` end to end, as a new user runs it: the real script in a child process, an
 * embedded PostgreSQL in a fresh data folder, HTTP on a free port, Ctrl-C to stop.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readFile, rm } from "node:fs/promises";
import { createServer } from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { networkInterfaces } from "node:os";
import { jwtVerify } from "jose";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { DEMO_USER } from "../../scripts/demo/data.js";
import { freePort, portAnswers, sharedTempDir } from "../harness/net.js";
import { testTempDir } from "../harness/temp.js";
import { TEST_DATABASE_URL } from "../harness/file-database.js";
import { adminConnection, createDatabase, databaseUrl, dropDatabase, testDatabaseName } from "../harness/postgres-admin.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const TSX = path.join(ROOT, "node_modules/.bin/tsx");

interface Run {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

function start(env: Record<string, string>): Run {
  const inherited = { ...process.env };
  for (const name of ["DATABASE_URL", "SUPABASE_POOLER_URL", "SUPABASE_JWT_SECRET", "UPSTASH_REDIS_REST_URL", "UPSTASH_REDIS_REST_TOKEN"]) {
    delete inherited[name];
  }
  const child = spawn(TSX, ["scripts/start.ts"], { cwd: ROOT, env: { ...inherited, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { child, output: () => output, exited };
}

async function readyUrl(run: Run, timeoutMs = 60_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const match = /ready on (http:\/\/localhost:\d+)/.exec(run.output());
    if (match?.[1]) return match[1];
    if (run.child.exitCode !== null) throw new Error(`npm start exited early:\n${run.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`npm start was not ready within ${timeoutMs} ms:\n${run.output()}`);
}

describe("npm start without DATABASE_URL (embedded PostgreSQL)", () => {
  let dataDir: string;
  let pgPort: number;

  beforeAll(async () => {
    dataDir = await sharedTempDir("gap-start-");
    pgPort = await freePort();
  });
  afterAll(() => rm(dataDir, { recursive: true, force: true }));

  const env = () => ({ LOCAL_DATA_DIR: dataDir, LOCAL_PG_PORT: String(pgPort), PORT: "0" });

  it("migrates, seeds, serves /api/health and prints a working demo token; Ctrl-C stops it all", async () => {
    const run = start(env());
    const url = await readyUrl(run);
    const health = await fetch(`${url}/api/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: "ok", db: { ok: true } });

    expect(run.output()).toContain("first run: seeding demo data");
    // Secrets made here are named by the files that keep them.
    expect(run.output()).toContain(`(sign in with the token in ${path.join(dataDir, "admin-token")})`);
    expect(run.output()).toContain(`signed with the key in ${path.join(dataDir, "backup-signing-key")}`);
    // Every schedule of the table runs here, whoever runs it once deployed.
    expect(run.output()).toContain("cron      /api/cron/stats-snapshot (*/5 * * * *, UTC; deployed: QStash)");
    expect(run.output()).toContain("cron      /api/cron/backup-rpo (*/15 * * * *, UTC; deployed: QStash)");
    expect(run.output()).toContain("cron      /api/cron/backup (0 3 * * *, UTC; deployed: Vercel Cron)");
    const cronSecret = await readFile(path.join(dataDir, "cron-secret"), "utf8");
    const snapshot = await fetch(`${url}/api/cron/stats-snapshot`, { headers: { authorization: `Bearer ${cronSecret}` } });
    expect(snapshot.status).toBe(200);
    const token = /demo token for .*:\n\s+(\S+)/.exec(run.output())?.[1] ?? "";
    const secret = await readFile(path.join(dataDir, "jwt-secret"), "utf8");
    const { payload } = await jwtVerify(token, new TextEncoder().encode(secret), { audience: "authenticated" });
    expect(payload).toMatchObject({ sub: DEMO_USER.id, role: "authenticated" });
    expect(run.output()).not.toContain(secret);
    expect(run.output()).toContain("postgres://postgres:***@");
    // The embedded superuser's password is generated and kept, not the well-known one.
    const pgPassword = (await readFile(path.join(dataDir, "pg-password"), "utf8")).trim();
    expect(pgPassword).toMatch(/^[\w-]{40,}$/);
    const guessed = postgres(`postgres://postgres:postgres@127.0.0.1:${pgPort}/postgres`, { max: 1, onnotice: () => undefined });
    await expect(guessed`select 1`).rejects.toMatchObject({ code: "28P01" });
    await guessed.end();
    // Only this machine reaches the server unless HOST says otherwise.
    const { port } = new URL(url);
    const outward = Object.values(networkInterfaces())
      .flat()
      .find((address) => address?.family === "IPv4" && !address.internal);
    if (outward) expect(await portAnswers(Number(port), outward.address)).toBe(false);
    expect(await portAnswers(Number(port))).toBe(true);

    expect(await portAnswers(pgPort)).toBe(true);
    run.child.kill("SIGINT");
    expect(await run.exited).toBe(0);
    expect(run.output()).toContain("stopped");
    expect(await portAnswers(pgPort)).toBe(false);
  });

  it("keeps its data between runs: the second start neither migrates nor seeds again", async () => {
    const run = start(env());
    const url = await readyUrl(run);
    expect((await fetch(`${url}/api/health`)).status).toBe(200);
    expect(run.output()).toContain("database schema is up to date");
    expect(run.output()).not.toContain("first run");
    run.child.kill("SIGTERM");
    expect(await run.exited).toBe(0);
  });
});

describe("npm start with DATABASE_URL", () => {
  it("uses that database, still migrates, and starts no embedded server", async () => {
    const admin = adminConnection(inject("serverUrl"));
    const name = testDatabaseName();
    await createDatabase(admin, name);
    const localDataDir = await testTempDir("gap-start-");
    const run = start({
      DATABASE_URL: databaseUrl(inject("serverUrl"), name),
      PORT: "0",
      LOCAL_DATA_DIR: localDataDir,
      ADMIN_TOKEN: "configured-admin-token-0123456789",
      BACKUP_SIGNING_KEY: "configured-signing-key-0123456789abcdef",
      DB_POOL_PROFILE: "worker",
      DB_POOL_MIN: "3",
    });
    const url = await readyUrl(run);
    // DB_POOL_MIN request connections are open before the first request, beside the direct one.
    const [open] = await admin`
      select count(*)::int as n from pg_stat_activity where datname = ${name} and application_name = 'gpt-agent-platform'`;
    expect(open?.n).toBeGreaterThanOrEqual(4);
    expect((await fetch(`${url}/api/health`)).status).toBe(200);
    expect(run.output()).not.toContain("embedded PostgreSQL");
    expect(run.output()).toContain("applied migration 20261127000100_core_schema");
    expect(run.output()).not.toContain("first run");
    // Secrets set in the environment are named by their variables: no file is made or named for them.
    expect(run.output()).toContain("(sign in with the token in ADMIN_TOKEN)");
    expect(run.output()).toContain("signed with the key in BACKUP_SIGNING_KEY");
    expect(run.output()).not.toContain(path.join(localDataDir, "admin-token"));
    await expect(readFile(path.join(localDataDir, "admin-token"))).rejects.toMatchObject({ code: "ENOENT" });
    run.child.kill("SIGINT");
    expect(await run.exited).toBe(0);
    await dropDatabase(admin, name);
    await admin.end();
  });

  it("exits non-zero with one clear line when its port is taken or its configuration is bad", async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, resolve));
    const { port } = blocker.address() as { port: number };
    const busy = start({ DATABASE_URL: TEST_DATABASE_URL, PORT: String(port) });
    expect(await busy.exited).toBe(1);
    expect(busy.output()).toContain(`error: port ${port} is in use; set PORT to a free one`);
    blocker.close();

    const bad = start({ DATABASE_URL: "mysql://nope", DB_POOL_MAX: "lots" });
    expect(await bad.exited).toBe(1);
    expect(bad.output().trim()).toBe(
      "error: Invalid configuration: DATABASE_URL must be a postgres:// or postgresql:// URL; DB_POOL_MAX must be a whole number of connections",
    );
  });
});
