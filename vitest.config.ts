import { execFileSync } from "node:child_process";
import { defineConfig } from "vitest/config";

/** The read-path suite, run a second time with request paths through a real PgBouncer. */
const READ_PATH_TESTS = ["test/api/agents.test.ts", "test/api/messages.test.ts", "test/api/bad-input.test.ts", "test/pgbouncer.test.ts", "test/round-trips.test.ts"];

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

export default defineConfig({
  test: {
    globalSetup: ["test/harness/global-setup.ts"],
    setupFiles: ["test/harness/file-database.ts"],
    pool: "forks",
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    testTimeout: 30_000,
    hookTimeout: 90_000,
    projects: [
      { extends: true, test: { name: "postgres", include: ["test/**/*.test.ts"], exclude: ["test/pgbouncer.test.ts", "test/managed-owner.test.ts"] } },
      { extends: true, test: { name: "owner", include: OWNER_TESTS } },
      ...(pgbouncerInstalled() ? [{ extends: true as const, test: { name: "pgbouncer", include: READ_PATH_TESTS } }] : []),
    ],
  },
});
