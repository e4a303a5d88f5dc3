/**
 * `npm run bench:scrape`: how long a scrape of /api/metrics takes on the demo database with
 * 1,000,000 messages (embedded PostgreSQL 15), and how many series it publishes.
 */
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import postgres from "postgres";
import { DEFAULT_DEMO_SIZES, seedDemoData } from "../scripts/demo/data.js";
import { metricsExposition } from "../functions/metrics.js";
import { overrideConfig } from "../lib/config.js";
import { migrate } from "../lib/db/migrate.js";
import { closeDbPools } from "../lib/db/pool.js";
import { startEmbeddedPostgres } from "../lib/local/embedded.js";

const SCRAPES = 12;
const dataRoot = await mkdtemp(path.join(tmpdir(), "gap-bench-scrape-"));
await chmod(dataRoot, 0o755);
const database = await startEmbeddedPostgres({ dataDir: path.join(dataRoot, "data"), port: 55000 + Math.floor(Math.random() * 5000) });
try {
  const sql = postgres(database.url, { max: 2, onnotice: () => undefined });
  await migrate(sql);
  process.stderr.write("seeding 1000000 messages\n");
  await seedDemoData(sql, { ...DEFAULT_DEMO_SIZES, messages: 1_000_000 });
  await sql.end();
  overrideConfig({ DATABASE_URL: database.url, DB_POOL_PROFILE: "worker" });
  const timings: number[] = [];
  let series = 0;
  let families = 0;
  for (let i = 0; i <= SCRAPES; i++) {
    const started = performance.now();
    const { body } = await metricsExposition();
    if (i > 0) timings.push(performance.now() - started);
    series = body.split("\n").filter((line) => line && !line.startsWith("#")).length;
    families = body.split("\n").filter((line) => line.startsWith("# TYPE")).length;
    if (!/^pg_up 1$/m.test(body)) throw new Error("the scrape did not reach the database");
  }
  timings.sort((a, b) => a - b);
  console.log(
    [
      "## Metrics scrape (`npm run bench:scrape`)",
      "",
      `Embedded PostgreSQL 15, the demo database with 1,000,000 messages; ${families} families, ${series} series per scrape.`,
      "",
      `- scrape time, median of ${SCRAPES}: **${timings[Math.floor(SCRAPES / 2)]?.toFixed(1)} ms**, slowest ${timings.at(-1)?.toFixed(1)} ms (goal < 200 ms)`,
    ].join("\n"),
  );
  await closeDbPools();
} finally {
  await database.stop();
  await rm(dataRoot, { recursive: true, force: true });
}
