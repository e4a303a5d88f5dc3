/**
 * `npm run bench:dashboard`: the dashboard's endpoints over fourteen days of 5-minute
 * snapshots with 5,000 statements each (about 20 million ops.query_stats rows, with their
 * hourly and daily rollups), on an embedded PostgreSQL 15: each endpoint's median and p95
 * over real HTTP (goal: under 300 ms), and the stats-snapshot job at 5,000 statements with
 * the rollups it now keeps (goal: under 1 s). BENCH_DATA_DIR keeps the database (and its
 * generated history) there for the next run.
 */
import { chmod, mkdir, mkdtemp, rm } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import postgres from "postgres";
import { seedHistory } from "../scripts/demo/history.js";
import { SNAPSHOT_INTERVAL_MS, takeStatsSnapshot } from "../functions/stats-snapshot.js";
import { overrideConfig } from "../lib/config.js";
import { migrate } from "../lib/db/migrate.js";
import { closeDbPools, directDb } from "../lib/db/pool.js";
import { startEmbeddedPostgres } from "../lib/local/embedded.js";
import { createLocalServer } from "../lib/server/server.js";
import { buildDashboard } from "../scripts/build-dashboard.js";

const DAYS = 14;
const STATEMENTS = 5000;
const RUNS = 25;
const SNAPSHOT_RUNS = 5;
const ADMIN = "bench-admin-token-0123456789abcdef";
const ROOT = fileURLToPath(new URL("../", import.meta.url));

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)] ?? NaN;
}

const kept = process.env.BENCH_DATA_DIR;
const dataRoot = kept ? path.resolve(kept) : await mkdtemp(path.join(tmpdir(), "gap-bench-dashboard-"));
await mkdir(dataRoot, { recursive: true });
await chmod(dataRoot, 0o755);
const database = await startEmbeddedPostgres({
  dataDir: path.join(dataRoot, "data"),
  port: 55000 + Math.floor(Math.random() * 5000),
  settings: { "pg_stat_statements.max": "10000" },
  persistent: Boolean(kept),
  ...(kept ? { password: "bench-dashboard-password" } : {}),
});
try {
  const sql = postgres(database.url, { max: 4, onnotice: () => undefined });
  await migrate(sql);
  overrideConfig({ DATABASE_URL: database.url, DB_POOL_PROFILE: "worker", ADMIN_TOKEN: ADMIN });

  const generating = performance.now();
  let generated = false;
  const [present] = await sql<{ snapshots: number }[]>`select count(*)::int as snapshots from ops.db_stats_snapshots`;
  if ((present?.snapshots ?? 0) < DAYS * 288) {
    await seedHistory(directDb(), {
      days: DAYS,
      statements: STATEMENTS,
      backups: true,
      onProgress: ({ day, days, rows }) =>
        process.stderr.write(`history day ${day}/${days}: ${rows} statement rows, ${((performance.now() - generating) / 1000).toFixed(0)} s\n`),
    });
    await sql`vacuum analyze`;
    generated = true;
  }
  const generatedSeconds = (performance.now() - generating) / 1000;
  const [volume] = await sql<{ snapshots: number; stats: number; hourly: number; daily: number; bytes: string }[]>`
    select
      (select count(*) from ops.db_stats_snapshots)::int as snapshots,
      (select count(*) from ops.query_stats)::float8 as stats,
      (select count(*) from ops.query_stats_hourly)::float8 as hourly,
      (select count(*) from ops.query_stats_daily)::float8 as daily,
      pg_size_pretty(pg_database_size(current_database())) as bytes`;

  // The snapshot job at 5,000 live statements, on top of that history (as bench:snapshot).
  await sql`create table if not exists bench_statements ()`;
  for (let c = 1; c <= 50; c++) await sql`alter table bench_statements add column if not exists ${sql(`c${c}`)} int`;
  const workload = async () => {
    for (let c = 1; c <= 50; c++) {
      for (let length = 1; length <= 100; length++) {
        await sql`select count(*) from bench_statements where ${sql(`c${c}`)} in ${sql(Array.from({ length }, (_, i) => i))}`;
      }
    }
  };
  await workload();
  // After every slot taken so far (a kept database has the last run's).
  const [newest] = await sql<{ at: Date | null }[]>`select max(slot) as at from ops.db_stats_snapshots`;
  const snapshotBase = Math.max(Date.now(), (newest?.at?.getTime() ?? 0) + SNAPSHOT_INTERVAL_MS);
  const snapshotTimes: number[] = [];
  for (let run = 0; run <= SNAPSHOT_RUNS; run++) {
    if (run > 0) await workload();
    const started = performance.now();
    const result = await takeStatsSnapshot({ at: new Date(snapshotBase + run * SNAPSHOT_INTERVAL_MS) });
    if (result.status !== "taken") throw new Error("snapshot not taken");
    if (run > 0) snapshotTimes.push(performance.now() - started);
  }
  snapshotTimes.sort((a, b) => a - b);

  await buildDashboard();
  const server = await createLocalServer({
    apiDir: path.join(ROOT, "api"),
    publicDir: path.join(ROOT, "public"),
    vercelConfig: path.join(ROOT, "vercel.json"),
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const [live] = await sql<
    { id: string }[]
  >`select queryid::text as id from ops.query_texts where query like '%from bench_statements where "c1" in%' order by queryid limit 1`;
  const endpoints: Array<[string, string]> = [];
  for (const window of ["1h", "24h", "7d", "14d"]) {
    endpoints.push(
      [`overview ${window}`, `/api/ops/overview?window=${window}`],
      [`statements ${window}`, `/api/ops/statements?window=${window}`],
      [`statement page (history) ${window}`, `/api/ops/statements/-7000000000000000001?window=${window}`],
      [`connections ${window}`, `/api/ops/connections?window=${window}`],
      [`space ${window}`, `/api/ops/space?window=${window}`],
      [`backups ${window}`, `/api/ops/backups?window=${window}`],
    );
  }
  endpoints.push(
    ["statement page (plan and advice) 24h", `/api/ops/statements/${live?.id}?window=24h`],
    ["activity", "/api/ops/activity"],
    ["findings", "/api/ops/findings"],
    ["dashboard page", "/dashboard"],
  );
  const rows: string[] = [];
  let slowest = 0;
  for (const [name, pathname] of endpoints) {
    const times: number[] = [];
    let bytes = 0;
    for (let run = 0; run <= RUNS; run++) {
      const started = performance.now();
      const response = await fetch(`${base}${pathname}`, { headers: { authorization: `Bearer ${ADMIN}` } });
      const body = await response.arrayBuffer();
      if (!response.ok) throw new Error(`${pathname} answered ${response.status}: ${Buffer.from(body).toString()}`);
      if (run > 0) times.push(performance.now() - started);
      bytes = body.byteLength;
    }
    times.sort((a, b) => a - b);
    slowest = Math.max(slowest, percentile(times, 0.95));
    rows.push(`| ${name} | ${percentile(times, 0.5).toFixed(1)} | ${percentile(times, 0.95).toFixed(1)} | ${(bytes / 1024).toFixed(1)} |`);
  }
  server.close();
  console.log(
    [
      "## Dashboard (`npm run bench:dashboard`)",
      "",
      `Embedded PostgreSQL 15, ${DAYS} days of 5-minute snapshots with ${STATEMENTS} statements each: ${volume?.snapshots} snapshots, ${volume?.stats} ops.query_stats rows, ${volume?.hourly} hourly and ${volume?.daily} daily rollup rows, database ${volume?.bytes} (${generated ? `generated in ${generatedSeconds.toFixed(0)} s` : "kept from an earlier run"}). Each endpoint over HTTP with Bearer ADMIN_TOKEN, ${RUNS} runs after one warm-up, one at a time, two cores:`,
      "",
      "| endpoint | median ms | p95 ms | answer kB |",
      "| --- | ---: | ---: | ---: |",
      ...rows,
      "",
      `Slowest p95: **${slowest.toFixed(0)} ms** (goal < 300 ms).`,
      "",
      `Stats-snapshot job with ${STATEMENTS} live statements and the rollups, median of ${SNAPSHOT_RUNS}: **${percentile(snapshotTimes, 0.5).toFixed(0)} ms** (goal < 1000 ms); all runs: ${snapshotTimes.map((t) => t.toFixed(0)).join(", ")} ms.`,
    ].join("\n"),
  );
  await sql.end();
  await closeDbPools();
} finally {
  await database.stop();
  if (!kept) await rm(dataRoot, { recursive: true, force: true });
}
