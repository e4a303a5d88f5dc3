/**
 * `npm run bench:scale [-- --messages 1000000,10000000,30000000]`: every job and read path at
 * each size, on an embedded PostgreSQL 15 started afresh per size, with the ratios to the first
 * size. The demo data with all messages in one conversation (the worst case for its pages) and
 * 1,000 agents; then, in order: the message pages (first, middle and last, by cursor and by
 * OFFSET), the uncached agent lookup, the stats snapshot, the metrics scrape, each db:inspect
 * section, the dashboard's endpoints (their functions, without HTTP), a backup (zstd, signed, on
 * this disk), its restore into an empty database, the disaster-recovery drill, and the write
 * path: 300,000 new messages with time-ordered ids (the table's default, UUIDv7) against random
 * ones (every id before), warm and then cold (PostgreSQL restarted, the OS page cache dropped),
 * with the WAL each writes. Prints a Markdown report.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import postgres from "postgres";
import { takeBackup } from "../functions/backup.js";
import { activity, backupsView, connectionsView, overview, spaceView, statementsView } from "../functions/dashboard.js";
import { disasterRecoveryDrill } from "../functions/dr-drill.js";
import { findingsView } from "../functions/findings.js";
import { inspectionReport, SECTIONS } from "../functions/inspection-report.js";
import { metricsExposition } from "../functions/metrics.js";
import { restoreChosenBackup } from "../functions/restore.js";
import { SNAPSHOT_INTERVAL_MS, takeStatsSnapshot } from "../functions/stats-snapshot.js";
import { agentWithWorkflows } from "../lib/data/agents.js";
import { messagesPageQuery } from "../lib/data/messages.js";
import { migrate } from "../lib/db/migrate.js";
import { closeDbPools, directDb, type Pool } from "../lib/db/pool.js";
import { startEmbeddedPostgres, type EmbeddedServer } from "../lib/local/embedded.js";
import { seedDemoData } from "../scripts/demo/data.js";
import { median, medianMs, progress, timedSeconds, useJobsConfig } from "./server-process.js";

const { values } = parseArgs({ options: { messages: { type: "string", default: "1000000,10000000,30000000" } } });
const SIZES = (values.messages ?? "").split(",").map(Number);
if (!SIZES.length || SIZES.some((n) => !Number.isInteger(n) || n < 10_000)) {
  console.error("error: --messages must be sizes of at least 10000, separated by commas (1000000,10000000)");
  process.exit(1);
}
const PAGE = 50;
const BATCH = 300_000;
const AGENTS = 1000;

/** One row of the report: a figure at each size. */
interface Row {
  group: string;
  name: string;
  unit: "s" | "ms" | "MB";
  values: number[];
}

const rows: Row[] = [];
function record(group: string, name: string, unit: Row["unit"], value: number, sizeIndex: number): void {
  let row = rows.find((r) => r.group === group && r.name === name);
  if (!row) {
    row = { group, name, unit, values: [] };
    rows.push(row);
  }
  row.values[sizeIndex] = value;
}

/** The cursor (created_at, id) of the row `offset` rows from the newest. */
async function cursorAt(sql: Pool, conversationId: string, offset: number): Promise<{ createdAt: string; id: string }> {
  const [row] = await sql<{ created_at: string; id: string }[]>`
    select api_timestamp(created_at) as created_at, id from conversation_messages
    where conversation_id = ${conversationId} order by created_at desc, id desc offset ${offset} limit 1`;
  return { createdAt: row?.created_at ?? "", id: row?.id ?? "" };
}

async function pages(sql: Pool, messages: number, index: number): Promise<void> {
  const [conversation] = await sql<{ id: string }[]>`select id from conversations limit 1`;
  const id = conversation?.id ?? "";
  const positions = { middle: Math.floor(messages / 2), last: messages - PAGE };
  record("message page (50)", "first, by cursor", "ms", await medianMs(() => messagesPageQuery(sql, id, { window: { limit: PAGE + 1 } }), 30), index);
  for (const [name, offset] of Object.entries(positions)) {
    const after = await cursorAt(sql, id, offset - 1);
    record(
      "message page (50)",
      `${name}, by cursor`,
      "ms",
      await medianMs(() => messagesPageQuery(sql, id, { window: { limit: PAGE + 1, after } }), 30),
      index,
    );
  }
  for (const [name, offset] of Object.entries(positions)) {
    const byOffset = () => sql`
      select m.id, m.conversation_id, m.role, m.content, m.metadata, m.created_at from conversation_messages m
      where m.conversation_id = ${id} order by m.created_at desc, m.id desc offset ${offset} limit ${PAGE + 1}`;
    record("message page (50)", `${name}, by OFFSET`, "ms", await medianMs(byOffset, 3), index);
  }
}

async function reads(sql: Pool, index: number): Promise<void> {
  const agents = await sql<{ id: string }[]>`select id from agents order by id limit 200`;
  let next = 0;
  record(
    "reads",
    "agent + workflows, uncached (one statement)",
    "ms",
    await medianMs(() => agentWithWorkflows(sql, agents[next++ % agents.length]?.id ?? ""), 200),
    index,
  );
  record("reads", "metrics scrape", "ms", await medianMs(() => metricsExposition(), 7), index);
}

async function monitoring(index: number): Promise<void> {
  const base = Date.now();
  const snapshots: number[] = [];
  // Three snapshots, five minutes apart as far as their slots go: the dashboard then has history.
  for (let run = 0; run < 3; run++) snapshots.push((await timedSeconds(() => takeStatsSnapshot({ at: new Date(base + run * SNAPSHOT_INTERVAL_MS) }))) * 1000);
  record("jobs", "stats snapshot", "ms", median(snapshots), index);
  for (const section of SECTIONS) {
    record("db:inspect", section, "ms", await medianMs(() => inspectionReport(directDb(), [section]), 3), index);
  }
  const endpoints: Record<string, () => Promise<unknown>> = {
    "overview (24h)": () => overview("24h"),
    "queries (24h, by total time)": () => statementsView("24h", { sort: "total", limit: 50 }),
    "connections (24h)": () => connectionsView("24h"),
    "activity (now)": () => activity(),
    "space (24h)": () => spaceView("24h"),
    "backups (24h)": () => backupsView("24h"),
    findings: () => findingsView(),
  };
  for (const [name, call] of Object.entries(endpoints)) record("dashboard", name, "ms", await medianMs(call, 3), index);
}

async function recovery(database: EmbeddedServer, index: number): Promise<void> {
  let archiveBytes = 0;
  record("jobs", "backup (pg_dump, zstd, signed, on this disk)", "s", await timedSeconds(async () => (archiveBytes = (await takeBackup()).sizeBytes)), index);
  record("sizes", "backup archive", "MB", archiveBytes / 1024 ** 2, index);
  const admin = postgres(database.url, { max: 1, onnotice: () => undefined });
  await admin`create database bench_restore_target`;
  const target = new URL(database.url);
  target.pathname = "/bench_restore_target";
  record(
    "jobs",
    "restore into an empty database (verified, one transaction)",
    "s",
    await timedSeconds(() => restoreChosenBackup({ latest: true }, target.toString())),
    index,
  );
  await admin`drop database bench_restore_target with (force)`;
  await admin.end();
  record("jobs", "disaster-recovery drill (restore, ANALYZE, checks)", "s", (await disasterRecoveryDrill()).recoverySeconds, index);
}

/** 300,000 new messages in one statement with `ids`, deleted again after: seconds and WAL bytes. */
async function inserts(sql: Pool, ids: "random" | "time-ordered"): Promise<{ seconds: number; walBytes: number }> {
  const [conversation] = await sql<{ id: string }[]>`select id from conversations limit 1`;
  const [before] = await sql<{ lsn: string }[]>`select pg_current_wal_lsn()::text as lsn`;
  const took = await timedSeconds(() =>
    ids === "random"
      ? sql`insert into conversation_messages (id, conversation_id, role, content, created_at)
            select gen_random_uuid(), ${conversation?.id ?? ""}, 'user', 'bench', now() from generate_series(1, ${BATCH})`
      : sql`insert into conversation_messages (conversation_id, role, content, created_at)
            select ${conversation?.id ?? ""}, 'user', 'bench', now() from generate_series(1, ${BATCH})`,
  );
  const [wal] = await sql<{ bytes: number }[]>`select pg_wal_lsn_diff(pg_current_wal_lsn(), ${before?.lsn ?? "0/0"}::pg_lsn)::float8 as bytes`;
  await sql`delete from conversation_messages where content = 'bench'`;
  await sql`vacuum conversation_messages`;
  await sql`checkpoint`;
  return { seconds: took, walBytes: wal?.bytes ?? 0 };
}

/** Stops PostgreSQL, drops the OS page cache (root only) and starts it again on the same data: what the next statement reads comes from disk. */
async function coldStart(database: EmbeddedServer, dataDir: string, password: string): Promise<EmbeddedServer> {
  await database.stop();
  execFileSync("sync");
  execFileSync("sh", ["-c", "echo 3 > /proc/sys/vm/drop_caches"]);
  return startEmbeddedPostgres({ dataDir, port: database.port, password });
}

/** Whether this process may drop the OS page cache (root only): the cold runs need it. */
function canDropCaches(): boolean {
  try {
    execFileSync("sh", ["-c", "test -w /proc/sys/vm/drop_caches"]);
    return true;
  } catch {
    return false;
  }
}

async function writes(state: { database: EmbeddedServer }, dataDir: string, password: string, index: number): Promise<void> {
  const temperatures = canDropCaches() ? (["warm", "cold"] as const) : (["warm"] as const);
  if (temperatures.length === 1) progress("cold writes left out: dropping the page cache needs root");
  for (const temperature of temperatures) {
    for (const ids of ["random", "time-ordered"] as const) {
      if (temperature === "cold") state.database = await coldStart(state.database, dataDir, password);
      const sql = postgres(state.database.url, { max: 1, onnotice: () => undefined });
      const { seconds: took, walBytes } = await inserts(sql, ids);
      await sql.end();
      record("writes (300,000 new messages)", `${ids} ids, ${temperature}`, "s", took, index);
      record("writes (300,000 new messages)", `${ids} ids, ${temperature}: WAL`, "MB", walBytes / 1024 ** 2, index);
    }
  }
}

async function measure(messages: number, index: number): Promise<void> {
  const root = await mkdtemp(path.join(tmpdir(), "gap-bench-scale-"));
  await chmod(root, 0o755);
  const dataDir = path.join(root, "data");
  const password = randomBytes(18).toString("base64url");
  const state = { database: await startEmbeddedPostgres({ dataDir, port: 55000 + Math.floor(Math.random() * 5000), password }) };
  try {
    const sql = postgres(state.database.url, { max: 2, onnotice: () => undefined });
    await migrate(sql);
    progress(`${messages.toLocaleString("en-US")} messages: seeding`);
    record(
      "jobs",
      "seed (npm run db:seed)",
      "s",
      await timedSeconds(() => seedDemoData(sql, { organizations: 10, usersPerOrganization: 4, agents: AGENTS, conversations: 1, messages })),
      index,
    );
    await sql`vacuum analyze`;
    const [size] = await sql<{ bytes: number }[]>`select pg_database_size(current_database())::float8 as bytes`;
    record("sizes", "database", "MB", (size?.bytes ?? 0) / 1024 ** 2, index);
    useJobsConfig(state.database.url, root);
    progress("message pages, reads");
    await pages(sql, messages, index);
    await reads(sql, index);
    progress("snapshot, db:inspect, dashboard");
    await monitoring(index);
    progress("backup, restore, drill");
    await recovery(state.database, index);
    await sql.end();
    await closeDbPools();
    progress("writes, warm then cold");
    await writes(state, dataDir, password, index);
  } finally {
    await closeDbPools();
    await state.database.stop();
    await rm(root, { recursive: true, force: true });
  }
}

function shown(value: number | undefined, unit: Row["unit"]): string {
  if (value === undefined) return "";
  if (unit === "MB") return value >= 1024 ? `${(value / 1024).toFixed(1)} GB` : `${value.toFixed(value < 10 ? 1 : 0)} MB`;
  const digits = value < 1 ? 3 : value < 100 ? 1 : 0;
  return `${value.toFixed(digits)} ${unit}`;
}

for (const [index, messages] of SIZES.entries()) await measure(messages, index);

const first = SIZES[0] ?? 1;
const header = SIZES.map((n) => `${(n / 1_000_000).toLocaleString("en-US")}M`);
const lines = [
  `## Every job at ${header.join(", ")} messages (\`npm run bench:scale -- --messages ${SIZES.join(",")}\`)`,
  "",
  `Embedded PostgreSQL 15 (its defaults: shared_buffers 128 MB), started afresh for each size; the demo data with ${AGENTS.toLocaleString("en-US")} agents and every message in one conversation. Medians; each figure's ratio to the ${header[0]} one in brackets (the data grew ${SIZES.map((n) => `${Math.round(n / first)}x`).join(", ")}).`,
  "",
  `| | ${header.join(" | ")} |`,
  `| --- | ${SIZES.map(() => "---:").join(" | ")} |`,
];
// Each group's rows together, groups in the order first met.
const groups = [...new Set(rows.map((row) => row.group))];
let group = "";
for (const row of groups.flatMap((name) => rows.filter((r) => r.group === name))) {
  if (row.group !== group) {
    group = row.group;
    lines.push(`| **${group}** | ${SIZES.map(() => "").join(" | ")} |`);
  }
  const base = row.values[0] ?? 0;
  const cells = row.values.map((value, i) => (i === 0 || !base ? shown(value, row.unit) : `${shown(value, row.unit)} (${(value / base).toFixed(1)}x)`));
  lines.push(`| ${row.name} | ${cells.join(" | ")} |`);
}
console.log(lines.join("\n"));
