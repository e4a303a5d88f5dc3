/**
 * Before each test file: a clean, migrated database of its own (a copy of the template),
 * and the configuration pointed at it; dropped when the file ends on a TEST_DATABASE_URL server
 * (the embedded one is deleted whole after the run).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, inject } from "vitest";
import { overrideConfig } from "../../lib/config.js";
import { closeDbPools, type Pool } from "../../lib/db/pool.js";
import { adminConnection, createDatabase, databaseUrl, dropDatabase, testDatabaseName } from "./postgres-admin.js";
import { droppedWhenDone } from "./throwaway-databases.js";

const serverUrl = inject("serverUrl");
const admin = adminConnection(serverUrl);
const name = testDatabaseName();
await createDatabase(admin, name, inject("templateDatabase"));

/** The test file's own database. */
export const TEST_DATABASE_URL = databaseUrl(serverUrl, name);

const pgbouncerUrl = inject("pgbouncerUrl");

/** The installation's backup signing key in tests (a script run as a child gets it in its environment). */
export const TEST_SIGNING_KEY = "test-backup-signing-key-0123456789abcdef";

/** Through PgBouncer (the `pgbouncer` project), marked as the transaction-mode pooler it is. */
export const TEST_POOLER_URL = pgbouncerUrl ? `${databaseUrl(pgbouncerUrl, name)}?pgbouncer=true` : "";

/** The test file's own LOCAL_DATA_DIR: what the local platform keeps there (the mode, secrets) is the file's alone. */
export const TEST_LOCAL_DATA_DIR = await mkdtemp(path.join(tmpdir(), "gap-test-local-"));

// Variables from the developer's shell must not steer tests to another database or cache.
overrideConfig({
  LOCAL_DATA_DIR: TEST_LOCAL_DATA_DIR,
  DATABASE_URL: TEST_DATABASE_URL,
  SUPABASE_POOLER_URL: TEST_POOLER_URL,
  UPSTASH_REDIS_REST_URL: "",
  UPSTASH_REDIS_REST_TOKEN: "",
  DB_POOL_PROFILE: "serverless",
  BACKUP_SIGNING_KEY: TEST_SIGNING_KEY,
  BACKUP_S3_BUCKET: "",
  BACKUP_AGE_RECIPIENTS: "",
  BACKUP_AGE_IDENTITY: "",
  BACKUP_AGE_IDENTITY_FILE: "",
  PUBLIC_URL: "",
});

let superuserConnection: Pool | undefined;

/**
 * The file's database as the server's superuser: for the few steps only a superuser may take
 * (in the `owner` project the tests run as a managed owner that is not one); each use says why.
 */
export function superuserDb(): Pool {
  superuserConnection ??= adminConnection(databaseUrl(inject("superuserUrl"), name));
  return superuserConnection;
}

afterAll(async () => {
  await superuserConnection?.end();
  await closeDbPools(0);
  if (droppedWhenDone()) await dropDatabase(admin, name);
  await admin.end();
  await rm(TEST_LOCAL_DATA_DIR, { recursive: true, force: true });
});
