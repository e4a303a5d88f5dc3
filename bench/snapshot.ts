/**
 * `npm run bench:snapshot`: how long the stats-snapshot job takes with 5,000 distinct
 * statements in pg_stat_statements (goal: under 1 s), on an embedded PostgreSQL 15, and the
 * part of it the top statements' plan fingerprints take.
 */
import { mkdtemp, rm, chmod } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import postgres from "postgres";
import { SNAPSHOT_INTERVAL_MS, takeStatsSnapshot } from "../functions/stats-snapshot.js";
import { overrideConfig } from "../lib/config.js";
import { migrate } from "../lib/db/migrate.js";
import { closeDbPools } from "../lib/db/pool.js";
import { startEmbeddedPostgres } from "../lib/local/embedded.js";

const COLUMNS = 50;
const LIST_LENGTHS = 100;
const RUNS = 5;

const dataRoot = await mkdtemp(path.join(tmpdir(), "gap-bench-snapshot-"));
await chmod(dataRoot, 0o755);
const database = await startEmbeddedPostgres({
  dataDir: path.join(dataRoot, "data"),
  port: 55000 + Math.floor(Math.random() * 5000),
  settings: { "pg_stat_statements.max": "10000" },
});
try {
  const sql = postgres(database.url, { max: 4, onnotice: () => undefined });
  await migrate(sql);
  const columns = Array.from({ length: COLUMNS }, (_, i) => `c${i + 1}`);
  await sql`create table bench_statements ()`;
  for (const column of columns) await sql`alter table bench_statements add column ${sql(column)} int`;
  // PostgreSQL 15 gives each column and each IN-list length its own query id: 50 x 100 shapes.
  const workload = async () => {
    for (const column of columns) {
      for (let length = 1; length <= LIST_LENGTHS; length++) {
        await sql`select count(*) from bench_statements where ${sql(column)} in ${sql(Array.from({ length }, (_, i) => i))}`;
      }
    }
  };
  process.stderr.write(`running ${COLUMNS * LIST_LENGTHS} distinct statements\n`);
  await workload();
  const [{ statements } = { statements: 0 }] = await sql<{ statements: number }[]>`
    select count(*)::int as statements from pg_stat_statements where dbid = (select oid from pg_database where datname = current_database())`;
  overrideConfig({ DATABASE_URL: database.url, DB_POOL_PROFILE: "worker" });
  const base = Date.now();
  const timings: number[] = [];
  const planTimings: number[] = [];
  let fingerprinted = 0;
  let rows = 0;
  for (let run = 0; run <= RUNS; run++) {
    if (run > 0) await workload();
    const started = performance.now();
    const result = await takeStatsSnapshot({ at: new Date(base + run * SNAPSHOT_INTERVAL_MS) });
    const ms = performance.now() - started;
    if (result.status !== "taken") throw new Error("snapshot not taken");
    if (run > 0) {
      timings.push(ms);
      planTimings.push(result.plans.ms);
    }
    if (result.plans.error) throw new Error(`plan fingerprints failed: ${result.plans.error}`);
    fingerprinted = result.plans.statements;
    rows = result.statements;
  }
  timings.sort((a, b) => a - b);
  planTimings.sort((a, b) => a - b);
  const [delta] = await sql<{ statements: number }[]>`
    select count(*)::int as statements from ops.query_stats
    where snapshot_id = (select max(id) from ops.db_stats_snapshots) and calls > 0`;
  console.log(
    [
      "## Stats snapshot (`npm run bench:snapshot`)",
      "",
      `Embedded PostgreSQL 15, ${statements} statements in pg_stat_statements for this database (${COLUMNS * LIST_LENGTHS} generated).`,
      "",
      `- snapshot time, median of ${RUNS}: **${timings[Math.floor(RUNS / 2)]?.toFixed(0)} ms** (goal < 1000 ms); all runs: ${timings.map((t) => t.toFixed(0)).join(", ")} ms`,
      `- statements recorded per snapshot: ${rows}; with work since the previous one: ${delta?.statements}`,
      `- of which the plan fingerprints of the top ${fingerprinted} statements (a connection of its own, plannability, PREPARE, EXPLAIN): median **${planTimings[Math.floor(RUNS / 2)]?.toFixed(0)} ms**; all runs: ${planTimings.map((t) => t.toFixed(0)).join(", ")} ms`,
    ].join("\n"),
  );
  await sql.end();
  await closeDbPools();
} finally {
  await database.stop();
  await rm(dataRoot, { recursive: true, force: true });
}
