/**
 * Supabase's direct connection is IPv6 unless the project buys the IPv4 add-on: a worker on an
 * IPv4-only machine takes the session pooler (port 5432 on the pooler host) as DATABASE_URL.
 * Here a real PgBouncer in session mode stands for it, and the processes that take
 * DATABASE_URL (backup, restore, drill, the stats snapshot) run through it; PgBouncer's own
 * counters show they did. In the `owner` project, as a non-superuser owner too.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import postgres from "postgres";
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from "vitest";
import { takeBackup } from "../functions/backup.js";
import { disasterRecoveryDrill } from "../functions/dr-drill.js";
import { restoreChosenBackup } from "../functions/restore.js";
import { takeStatsSnapshot } from "../functions/stats-snapshot.js";
import { useConfig } from "./harness/config.js";
import { seededDemo } from "./harness/demo.js";
import { TEST_DATABASE_URL } from "./harness/file-database.js";
import { freePort } from "./harness/net.js";
import { startPgbouncer, type Pgbouncer } from "./harness/pgbouncer.js";
import { adminConnection, createDatabase, databaseUrl, dropDatabase, testDatabaseName } from "./harness/postgres-admin.js";
import { commandAvailable } from "./harness/services.js";
import { quietConsole } from "./harness/console.js";

const withTools = commandAvailable("pgbouncer") && commandAvailable("pg_dump") && commandAvailable("pg_restore");
const database = new URL(TEST_DATABASE_URL).pathname.slice(1);
const admin = adminConnection(inject("serverUrl"));
const targets: string[] = [];
let pooler: Pgbouncer | undefined;
let backupDir: string;

/** Queries PgBouncer has served per database since it started. */
async function servedQueries(): Promise<Record<string, number>> {
  const console = postgres(databaseUrl(pooler?.url ?? "", "pgbouncer"), { max: 1, prepare: false, fetch_types: false, onnotice: () => undefined });
  try {
    const rows = await console.unsafe("SHOW STATS").simple();
    return Object.fromEntries(rows.map((row) => [String(row.database), Number(row.total_query_count ?? 0)]));
  } finally {
    await console.end();
  }
}

beforeAll(async () => {
  if (!withTools) return;
  backupDir = await mkdtemp(path.join(tmpdir(), "gap-session-pooler-"));
  await seededDemo();
  pooler = await startPgbouncer(inject("serverUrl"), await freePort(), "session");
  await useConfig({ DATABASE_URL: databaseUrl(pooler.url, database), BACKUP_DIR: backupDir });
});
afterAll(async () => {
  await useConfig({ DATABASE_URL: TEST_DATABASE_URL });
  await pooler?.stop();
  for (const name of targets) await dropDatabase(admin, name);
  await admin.end();
  if (backupDir) await rm(backupDir, { recursive: true, force: true });
});
beforeEach(() => quietConsole("error", "log", "warn"));

describe.skipIf(!withTools)("through a session-mode pooler as DATABASE_URL", () => {
  it("takes the stats snapshot", async () => {
    const before = (await servedQueries())[database] ?? 0;
    const result = await takeStatsSnapshot();
    expect(result).toMatchObject({ status: "taken", statements: expect.any(Number) });
    expect((await servedQueries())[database] ?? 0).toBeGreaterThan(before);
  });

  it("backs up, restores into a fresh database and drills, every connection through the pooler", async () => {
    const before = (await servedQueries())[database] ?? 0;
    const backup = await takeBackup();
    expect(backup.rows).toBeGreaterThan(0);
    expect((await servedQueries())[database] ?? 0).toBeGreaterThan(before);

    const name = testDatabaseName();
    await createDatabase(admin, name);
    targets.push(name);
    const restored = await restoreChosenBackup({ location: fileURLToPath(backup.location) }, databaseUrl(pooler?.url ?? "", name));
    expect(restored).toMatchObject({ tables: backup.tables, rows: backup.rows });
    expect((await servedQueries())[name] ?? 0).toBeGreaterThan(0);

    const drill = await disasterRecoveryDrill();
    expect(drill).toMatchObject({ backupId: backup.id, tables: backup.tables, rows: backup.rows, kept: false });
    expect((await servedQueries())[drill.scratchDatabase] ?? 0).toBeGreaterThan(0);
    const [left] = await admin<{ n: number }[]>`select count(*)::int as n from pg_database where datname = ${drill.scratchDatabase}`;
    expect(left?.n).toBe(0);
  });
});
