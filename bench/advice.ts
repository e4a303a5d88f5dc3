/**
 * `npm run bench:advice [-- --messages 1000000]`: index advice predicted by hypopg against the
 * same advice measured on the drill's restored copy, on the seeded database with planted
 * problems, and what the measurement adds to the drill. On an embedded PostgreSQL 15 (with
 * hypopg where the machine has it: apt-get install postgresql-15-hypopg). The planted problems:
 *
 * - a missing index: the message pages' index dropped, so each page scans the table;
 * - an index only hypopg's estimate favours: a column where 97% of rows hold the value the
 *   application asks for (its generic plan guesses 1 row in 31);
 * - a rarely used but needed index: messages by time, read by a report 10 times (under the 50
 *   scans that make an index "unused"), which scans the table without it;
 * - a redundant index (conversations by organization, covered by a new (organization_id,
 *   created_at)); the schema's own unused ones (analytics events) come along.
 *
 * The workload calls the slow statements 100 times each (the slow-statement threshold), then a
 * backup is taken and drilled twice: without the measurement and with it. Prints Markdown.
 */
import { randomBytes } from "node:crypto";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import postgres from "postgres";
import { takeBackup } from "../functions/backup.js";
import { disasterRecoveryDrill } from "../functions/dr-drill.js";
import { newestMeasuredAdvice } from "../lib/data/measured-advice.js";
import { messagesPageQuery } from "../lib/data/messages.js";
import { migrate } from "../lib/db/migrate.js";
import { closeDbPools, type Pool } from "../lib/db/pool.js";
import { startEmbeddedPostgres } from "../lib/local/embedded.js";
import { seedDemoData } from "../scripts/demo/data.js";
import { progress, timedSeconds, useJobsConfig } from "./server-process.js";

const { values } = parseArgs({ options: { messages: { type: "string", default: "1000000" }, calls: { type: "string", default: "100" } } });
const MESSAGES = Number(values.messages);
const CALLS = Number(values.calls);
if (!Number.isInteger(MESSAGES) || MESSAGES < 100_000 || !Number.isInteger(CALLS) || CALLS < 1) {
  console.error("error: --messages must be a whole number of at least 100000, --calls of at least 1");
  process.exit(1);
}
const CONVERSATIONS = 20_000;

async function plant(sql: Pool): Promise<void> {
  await sql`drop index idx_messages_conversation_created`;
  await sql`alter table conversation_messages add column channel text not null default 'web'`;
  await sql`
    update conversation_messages set channel = 'sms-' || (abs(hashtext(id::text)) % 30)
    where id in (select id from conversation_messages order by created_at desc limit ${Math.round(MESSAGES * 0.03)})`;
  await sql`create index idx_messages_created on conversation_messages (created_at)`;
  await sql`create index idx_conversations_organization_created on conversations (organization_id, created_at)`;
  await sql`vacuum analyze`;
}

/** The application's reads, each on its own connection as a serverless function makes them. */
async function workload(url: string): Promise<void> {
  const app = postgres(url, { max: 1, prepare: false, onnotice: () => undefined });
  const conversations = await app<{ id: string; organizationId: string }[]>`
    select id, organization_id as "organizationId" from conversations order by id limit ${CALLS}`;
  for (const c of conversations) await messagesPageQuery(app, c.id, { window: { limit: 50 } });
  for (let i = 0; i < CALLS; i++) await app`select count(*) from conversation_messages where channel = ${"web"}`;
  for (let i = 0; i < 10; i++) {
    await app`select count(*) from conversation_messages where created_at >= ${new Date(Date.now() - (i + 1) * 3600_000)} and created_at < ${new Date(Date.now() - i * 3600_000)}`;
  }
  for (const c of conversations.slice(0, 20))
    await app`select id from conversations where organization_id = ${c.organizationId} order by created_at desc limit 20`;
  await app.end();
}

const root = await mkdtemp(path.join(tmpdir(), "gap-bench-advice-"));
await chmod(root, 0o755);
const password = randomBytes(18).toString("base64url");
const database = await startEmbeddedPostgres({ dataDir: path.join(root, "data"), port: 55000 + Math.floor(Math.random() * 5000), password });
try {
  const sql = postgres(database.url, { max: 2, onnotice: () => undefined });
  await migrate(sql);
  progress(`seeding ${MESSAGES.toLocaleString("en-US")} messages in ${CONVERSATIONS.toLocaleString("en-US")} conversations`);
  await seedDemoData(sql, { organizations: 10, usersPerOrganization: 4, agents: 100, conversations: CONVERSATIONS, messages: MESSAGES });
  await plant(sql);
  await sql`select pg_stat_statements_reset()`;
  progress(`workload: ${CALLS} calls of each slow statement`);
  const workloadSeconds = await timedSeconds(() => workload(database.url));
  useJobsConfig(database.url, root);
  progress("backup");
  await takeBackup();
  progress("drill without the measurement (twice: the first warms the cache)");
  await disasterRecoveryDrill({ measureAdvice: false });
  let plain: Awaited<ReturnType<typeof disasterRecoveryDrill>> | undefined;
  const plainSeconds = await timedSeconds(async () => {
    plain = await disasterRecoveryDrill({ measureAdvice: false });
  });
  progress("drill with the measurement");
  let measured: Awaited<ReturnType<typeof disasterRecoveryDrill>> | undefined;
  const measuredSeconds = await timedSeconds(async () => {
    measured = await disasterRecoveryDrill();
  });
  const run = await newestMeasuredAdvice(sql);
  const [hypopg] = await sql<{ installed: boolean }[]>`select exists (select 1 from pg_extension where extname = 'hypopg') as installed`;
  const speedup = (before: number | null, after: number | null) => (before && after ? `${(before / after).toFixed(1)}x` : "–");
  const ms = (value: number | null) => (value === null ? "–" : value >= 10 ? `${value.toFixed(0)} ms` : `${value.toFixed(2)} ms`);
  const creates = (run?.advice ?? []).filter((a) => a.kind === "create");
  const drops = (run?.advice ?? []).filter((a) => a.kind === "drop");
  console.log(
    [
      `## Measured advice (\`npm run bench:advice -- --messages ${MESSAGES} --calls ${CALLS}\`)`,
      "",
      `Embedded PostgreSQL 15${hypopg?.installed ? " with hypopg" : " (hypopg not installed: no suggestions to measure)"}, ${MESSAGES.toLocaleString("en-US")} seeded messages in ${CONVERSATIONS.toLocaleString("en-US")} conversations, planted problems (bench/advice.ts says each), workload ${workloadSeconds.toFixed(1)} s. Measured by the drill on its restored copy: ${CALLS >= 100 ? "default" : "its"} thresholds, 5 value sets drawn from the copy's statistics, median of 3 runs each.`,
      "",
      "| suggested index | statement | hypopg predicted | measured on the copy | build | size | verdict |",
      "|---|---|---:|---:|---:|---:|---|",
      ...creates.map(
        (a) =>
          `| ${a.index} | \`${(a.query ?? "").replace(/\s+/g, " ").slice(0, 70)}\` | ${speedup(a.predictedCostBefore, a.predictedCostAfter)} (cost ${a.predictedCostBefore?.toFixed(0)} → ${a.predictedCostAfter?.toFixed(0)}) | ${speedup(a.msBefore, a.msAfter)} (${ms(a.msBefore)} → ${ms(a.msAfter)}) | ${a.buildSeconds ?? "–"} s | ${a.sizeBytes === null ? "–" : `${(a.sizeBytes / 1024 ** 2).toFixed(1)} MB`} | ${a.verdict} |`,
      ),
      "",
      "| index proposed for a drop | verdict | why |",
      "|---|---|---|",
      ...drops.map((a) => `| ${a.index} | ${a.verdict} | ${a.reason.replace(/\|/g, "\\|")} |`),
      "",
      `- drill without the measurement: ${plainSeconds.toFixed(1)} s in all (recovery ${plain?.recoverySeconds ?? "–"} s)`,
      `- drill with it: ${measuredSeconds.toFixed(1)} s in all (recovery ${measured?.recoverySeconds ?? "–"} s); the measurement itself ${measured?.advice.measured ? `${measured.advice.seconds} s` : `did not run: ${measured?.advice.measured === false ? measured.advice.reason : ""}`}`,
    ].join("\n"),
  );
  await sql.end();
  await closeDbPools();
} finally {
  await database.stop();
  await rm(root, { recursive: true, force: true });
}
