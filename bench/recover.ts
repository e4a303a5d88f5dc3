/**
 * `npm run bench:recover [-- --messages N]`: scenario 2 timed, on an embedded PostgreSQL 15 with
 * 1,000,000 messages (or N): a backup, one organization's messages deleted while another writes,
 * then `recoverOrganization` as `npm run db:recover` runs it (the backup restored into a scratch
 * database, the dry run, the recovery, the scratch dropped). Prints a Markdown report.
 */
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import postgres from "postgres";
import { takeBackup } from "../functions/backup.js";
import { DEFAULT_DEMO_SIZES, seedDemoData } from "../scripts/demo/data.js";
import { recoverOrganization } from "../functions/recover.js";
import { overrideConfig } from "../lib/config.js";
import { migrate } from "../lib/db/migrate.js";
import { closeDbPools } from "../lib/db/pool.js";
import { startEmbeddedPostgres } from "../lib/local/embedded.js";

const { values: options } = parseArgs({ options: { messages: { type: "string", default: "1000000" } } });
const MESSAGES = Number(options.messages);

function log(message: string): void {
  process.stderr.write(`${message}\n`);
}

const work = await mkdtemp(path.join(tmpdir(), "gap-bench-recover-"));
await chmod(work, 0o755);
const database = await startEmbeddedPostgres({ dataDir: path.join(work, "pg"), port: 55000 + Math.floor(Math.random() * 5000) });
const sql = postgres(database.url, { max: 2, onnotice: () => undefined });
try {
  await migrate(sql);
  log(`seeding ${MESSAGES} messages`);
  await seedDemoData(sql, { ...DEFAULT_DEMO_SIZES, messages: MESSAGES });
  overrideConfig({
    DATABASE_URL: database.url,
    DB_POOL_PROFILE: "worker",
    BACKUP_SIGNING_KEY: randomBytes(32).toString("base64url"),
    BACKUP_DIR: path.join(work, "backups"),
    PG_BIN_DIR: "",
  });
  log("backup");
  const backup = await takeBackup();
  const [damaged, other] = (await sql<{ id: string }[]>`select id from organizations order by slug limit 2`).map((row) => row.id) as [string, string];
  const deleted = await sql`delete from conversation_messages m using conversations c where c.id = m.conversation_id and c.organization_id = ${damaged}`;
  const written =
    await sql`insert into conversation_messages (conversation_id, role, content) select id, 'user', 'after the backup' from conversations where organization_id = ${other}`;
  log("recover");
  const started = performance.now();
  let planned = 0;
  const report = await recoverOrganization({
    organizationId: damaged,
    choice: { latest: true },
    confirm: async () => {
      planned = performance.now();
      return true;
    },
  });
  const finished = performance.now();
  await closeDbPools();
  const inserted = report.outcomes.reduce((sum, outcome) => sum + outcome.inserted, 0);
  const recoverySeconds = (finished - planned) / 1000;
  console.log(
    [
      "## Recovering one organization (`npm run bench:recover`)",
      "",
      `Embedded PostgreSQL 15, ${MESSAGES.toLocaleString("en")} messages; backup ${backup.id} (${(backup.sizeBytes / 1024 / 1024).toFixed(1)} MB); ` +
        `${deleted.count.toLocaleString("en")} messages of one organization deleted, ${written.count} written by another after the backup.`,
      "",
      "| step | seconds |",
      "| --- | ---: |",
      `| restore into a scratch database, then the dry run (exact counts, rolled back) | ${((planned - started) / 1000).toFixed(2)} |`,
      `| the recovery (${inserted.toLocaleString("en")} rows, one transaction), then the scratch database dropped | ${recoverySeconds.toFixed(2)} |`,
      `| the whole command | ${((finished - started) / 1000).toFixed(2)} |`,
      "",
      `- ${Math.round(inserted / recoverySeconds).toLocaleString("en")} rows a second put back; the other organization's ${written.count} rows written after the backup untouched`,
    ].join("\n"),
  );
} finally {
  await sql.end();
  await database.stop();
  await rm(work, { recursive: true, force: true });
}
