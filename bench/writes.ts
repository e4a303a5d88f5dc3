/**
 * `npm run bench:writes -- [--messages 10000000] [--ids time-ordered|random]`: the messages
 * table's write path at size, as the platform writes it now (time-ordered UUIDv7 ids, the
 * default) or as it did before (random ids). Seeds the demo data with that many messages in one
 * conversation with those ids, then inserts 300,000 more messages in one statement with the same
 * kind of ids, three times, each batch deleted again after it is timed (VACUUM and CHECKPOINT
 * between). Prints the seeding time and the inserts' median.
 */
import { rm } from "node:fs/promises";
import path from "node:path";
import { parseArgs } from "node:util";
import postgres from "postgres";
import { seedDemoData } from "../scripts/demo/data.js";
import { migrate } from "../lib/db/migrate.js";
import { startEmbeddedPostgres } from "../lib/local/embedded.js";
import { freePort, sharedTempDir } from "../test/harness/net.js";
import { median, timedSeconds } from "./server-process.js";

const { values } = parseArgs({ options: { messages: { type: "string", default: "10000000" }, ids: { type: "string", default: "time-ordered" } } });
const MESSAGES = Number(values.messages);
const IDS = values.ids === "random" ? "random" : "time-ordered";
const BATCH = 300_000;
const ROUNDS = 3;

function log(message: string): void {
  process.stderr.write(`${message}\n`);
}

async function main(): Promise<void> {
  if (!Number.isInteger(MESSAGES) || MESSAGES < 1) throw new Error("--messages must be a whole number");
  const dataRoot = await sharedTempDir("gap-bench-writes-");
  const database = await startEmbeddedPostgres({ dataDir: path.join(dataRoot, "data"), port: await freePort(), persistent: false });
  const sql = postgres(database.url, { max: 2, onnotice: () => undefined });
  try {
    await migrate(sql);
    log(`seeding ${MESSAGES.toLocaleString("en-US")} messages in one conversation`);
    const seedSeconds = await timedSeconds(() =>
      seedDemoData(sql, { organizations: 1, usersPerOrganization: 1, agents: 1, conversations: 1, messages: MESSAGES }),
    );
    await sql`vacuum analyze conversation_messages`;
    const [size] = await sql<{ bytes: number }[]>`select pg_total_relation_size('conversation_messages')::float8 as bytes`;
    const [conversation] = await sql<{ id: string }[]>`select id from conversations limit 1`;
    const insert = (ids: "random" | "time-ordered") =>
      sql.begin(async (tx) => {
        await tx`set local synchronous_commit = off`;
        await (ids === "random"
          ? tx`insert into conversation_messages (id, conversation_id, role, content, created_at)
               select gen_random_uuid(), ${conversation?.id ?? ""}, 'user', 'bench', now() from generate_series(1, ${BATCH})`
          : tx`insert into conversation_messages (conversation_id, role, content, created_at)
               select ${conversation?.id ?? ""}, 'user', 'bench', now() from generate_series(1, ${BATCH})`);
      });
    const times: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      log(`round ${round + 1}: ${BATCH.toLocaleString("en-US")} inserts with ${IDS} ids`);
      times.push(await timedSeconds(() => insert(IDS)));
      await sql`delete from conversation_messages where content = 'bench'`;
      await sql`vacuum conversation_messages`;
      await sql`checkpoint`;
    }
    const gb = (size?.bytes ?? 0) / 1024 ** 3;
    console.log(
      `## Messages write path at ${MESSAGES.toLocaleString("en-US")} messages, ${IDS} ids (\`npm run bench:writes -- --messages ${MESSAGES} --ids ${IDS}\`)\n`,
    );
    console.log(
      `Embedded PostgreSQL 15 (shared_buffers 128 MB); messages table ${gb < 1 ? `${Math.round(gb * 1024)} MB` : `${gb.toFixed(1)} GB`} with its indexes; ${BATCH.toLocaleString("en-US")} rows in one insert statement, ${ROUNDS} runs, median.\n`,
    );
    console.log(`| ${IDS} ids | seconds |`);
    console.log("| --- | ---: |");
    console.log(`| seeding ${MESSAGES.toLocaleString("en-US")} messages | ${seedSeconds.toFixed(1)} |`);
    console.log(`| ${BATCH.toLocaleString("en-US")} inserts | **${median(times).toFixed(2)}** (${times.map((t) => t.toFixed(2)).join(", ")}) |`);
  } finally {
    await sql.end();
    await database.stop();
    await rm(dataRoot, { recursive: true, force: true });
  }
}

await main();
