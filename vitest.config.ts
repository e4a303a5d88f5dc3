import { execFileSync } from "node:child_process";
import { defineConfig } from "vitest/config";

/**
 * Tests that need no database (nor any service beyond Redis and files): the `unit` project,
 * run alone by `npm run test:quick` in the edit loop. Each file gets a configuration of its own
 * (test/harness/unit-config.ts) and no database copy.
 */
export const UNIT_TESTS = [
  "test/env-example.test.ts",
  "test/attacks/path-encodings.test.ts",
  "test/lib/config.test.ts",
  "test/lib/alerts/alerts.test.ts",
  "test/lib/auth/verify.test.ts",
  "test/lib/backups/pg-tools.test.ts",
  "test/lib/backups/private-files.test.ts",
  "test/lib/cache/first-level.test.ts",
  "test/lib/cache/read-through.test.ts",
  "test/lib/cache/store.test.ts",
  "test/lib/db/gate.test.ts",
  "test/lib/db/inspect/capacity.test.ts",
  "test/lib/db/inspect/drop-plan.test.ts",
  "test/lib/http/errors.test.ts",
  "test/lib/jobs/monitored.test.ts",
  "test/lib/jobs/schedules.test.ts",
  "test/lib/local/cron.test.ts",
  "test/lib/server/router.test.ts",
  "test/lib/server/static.test.ts",
  "test/lib/local/system-extensions.test.ts",
  "test/lib/metrics/thresholds.test.ts",
  "test/scripts/schedules.test.ts",
  "test/scripts/seed-args.test.ts",
];

/** The read-path suite, run a second time with request paths through a real PgBouncer. */
const READ_PATH_TESTS = [
  "test/api/agents.test.ts",
  "test/api/messages.test.ts",
  "test/api/bad-input.test.ts",
  "test/pgbouncer.test.ts",
  "test/round-trips.test.ts",
];

/**
 * The suites that touch the database's privileges, run a second time as a non-superuser owner
 * (as on Supabase, RDS, Cloud SQL or Neon): migrations, inspection and advice, snapshots,
 * metrics, backup, restore, drill, cancel/terminate, the session pooler.
 */
const OWNER_TESTS = [
  "test/lib/db/migrate.test.ts",
  "test/lib/db/inspect/*.test.ts",
  "test/scripts/inspect.test.ts",
  "test/api/stats-snapshot.test.ts",
  "test/api/metrics.test.ts",
  "test/api/metrics-exporter.test.ts",
  "test/functions/backup.test.ts",
  "test/functions/backup-trust.test.ts",
  "test/functions/backup-auth.test.ts",
  "test/functions/dr-drill.test.ts",
  "test/functions/session-signal.test.ts",
  "test/managed-owner.test.ts",
  "test/session-pooler.test.ts",
];

function pgbouncerInstalled(): boolean {
  try {
    execFileSync("which", ["pgbouncer"], { stdio: "ignore" });
    return true;
  } catch {
    if (process.env.CI === "true") throw new Error("pgbouncer is required under CI: .ci/run must install it");
    console.warn("pgbouncer is not on the PATH: the read-path suite through PgBouncer is skipped");
    return false;
  }
}

/** A project whose files each get a database of their own (a copy of the migrated template). */
const withDatabase = { globalSetup: ["test/harness/global-setup.ts"], setupFiles: ["test/harness/file-database.ts"] };

export default defineConfig({
  test: {
    pool: "forks",
    // Three on two cores: much of a test's time is spent waiting on PostgreSQL, pg_dump or a child process.
    poolOptions: { forks: { maxForks: 3, minForks: 1 } },
    // The harness talks to s3rver through the AWS SDK directly: its Node 22 notice, turned off as lib/backups/object-store.ts does.
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" },
    testTimeout: 30_000,
    hookTimeout: 90_000,
    projects: [
      {
        extends: true,
        test: { name: "unit", include: UNIT_TESTS, globalSetup: ["test/harness/global-build.ts"], setupFiles: ["test/harness/unit-config.ts"] },
      },
      {
        extends: true,
        test: {
          name: "postgres",
          include: ["test/**/*.test.ts"],
          exclude: ["test/pgbouncer.test.ts", "test/managed-owner.test.ts", ...UNIT_TESTS],
          ...withDatabase,
        },
      },
      { extends: true, test: { name: "owner", include: OWNER_TESTS, exclude: UNIT_TESTS, ...withDatabase } },
      ...(pgbouncerInstalled() ? [{ extends: true as const, test: { name: "pgbouncer", include: READ_PATH_TESTS, ...withDatabase } }] : []),
    ],
  },
});
