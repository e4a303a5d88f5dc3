/**
 * `npm run db:recover -- --organization <id> [--table <name> ...] [--backup <id> | --before <time>]
 * [--server <postgres-url>] [--dry-run] [--yes]`: puts back one organization's rows that a backup
 * has and the live database (DATABASE_URL) lacks, never overwriting or deleting a live row.
 */
import { createInterface } from "node:readline/promises";
import { recoverOrganization, type RecoveryChoice } from "../functions/recover.js";
import { timeAndAge } from "../lib/backups/catalog.js";
import { config, isPostgresUrl } from "../lib/config.js";
import { closeDbPools } from "../lib/db/pool.js";
import { redactedUrl } from "../lib/db/target.js";
import type { TableOutcome } from "../lib/recovery/organization-rows.js";
import { commandLine, runCli, timeOrAge, UsageError, useDatabase, useLocalSigningKey } from "./cli.js";
import { formatTable } from "./format-table.js";

const USAGE = `usage: npm run db:recover -- --organization <id> [--table <name> ...] [--backup <id> | --before <time>] [--server <postgres-url>] [--dry-run] [--yes]
  puts back the organization's rows that the backup has and the live database (DATABASE_URL) lacks, by primary key,
  parents first, in one transaction; never overwrites or deletes a live row, never touches another organization's.
  --before TIME   the newest backup taken before the damage: 2026-12-06T03:00Z, or an age such as 90m, 6h, 3d
  --backup ID     that backup; neither: the newest
  --table NAME    only this table (repeatable), with the rows above it that its rows need
  --server URL    where the scratch database is restored (default: DATABASE_URL's server; it needs room for the database)
  --dry-run       the counts per table, nothing written
  --yes           write without asking`;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function choiceOf(backup: string | undefined, before: string | undefined): RecoveryChoice {
  if (backup !== undefined && before !== undefined) throw new UsageError(`give --backup or --before, not both\n${USAGE}`);
  if (backup !== undefined) {
    if (!/^\d{1,18}$/.test(backup)) throw new UsageError(`--backup must be a backup id (a number)\n${USAGE}`);
    return { id: backup };
  }
  return before === undefined ? { latest: true } : { before: timeOrAge(before, "--before", USAGE) };
}

const total = (outcomes: TableOutcome[], field: "inserted" | "conflicting" | "inBackup") => outcomes.reduce((sum, o) => sum + o[field], 0);

/** Asks on the terminal; a run without one must say --yes. */
async function confirmed(question: string): Promise<boolean> {
  if (!process.stdin.isTTY) return false;
  const prompt = createInterface({ input: process.stdin, output: process.stdout });
  try {
    return /^y(es)?$/i.test((await prompt.question(`${question} [y/N] `)).trim());
  } finally {
    prompt.close();
  }
}

await runCli(async () => {
  const { values } = commandLine(
    {
      args: process.argv.slice(2),
      options: {
        organization: { type: "string" },
        table: { type: "string", multiple: true },
        backup: { type: "string" },
        before: { type: "string" },
        server: { type: "string" },
        "dry-run": { type: "boolean" },
        yes: { type: "boolean" },
      },
    },
    USAGE,
  );
  const organizationId = values.organization ?? "";
  if (!UUID.test(organizationId)) throw new UsageError(`--organization must be an organization's id (a uuid)\n${USAGE}`);
  if (values.server !== undefined && !isPostgresUrl(values.server)) throw new UsageError(`--server must be a postgres:// URL\n${USAGE}`);
  const dryRun = values["dry-run"] ?? false;
  await useDatabase();
  await useLocalSigningKey({ create: false });
  const live = redactedUrl(config().databaseUrl ?? "");
  let asked = false;
  const report = await recoverOrganization({
    organizationId,
    tables: values.table ?? [],
    choice: choiceOf(values.backup, values.before),
    serverUrl: values.server,
    dryRun,
    onBackup: (backup, scratch) =>
      console.log(`backup ${backup.id} (taken ${timeAndAge(backup.takenAt)}) from ${backup.location}, restored into scratch database ${scratch}`),
    confirm: async (plan) => {
      console.log(
        formatTable(plan.map(({ table, inBackup, alreadyLive, inserted, conflicting }) => ({ table, inBackup, alreadyLive, toInsert: inserted, conflicting }))),
      );
      if (values.yes) return true;
      asked = true;
      return confirmed(`insert ${total(plan, "inserted")} rows of organization ${organizationId} into ${live}?`);
    },
  });
  await closeDbPools();
  if (report.mode === "normal")
    console.log("note: the platform is in normal mode: writes went on during the recovery (npm run platform:mode -- read-only first)");
  if (!report.applied) {
    if (dryRun) {
      console.log(
        formatTable(
          report.outcomes.map(({ table, inBackup, alreadyLive, inserted, conflicting }) => ({ table, inBackup, alreadyLive, toInsert: inserted, conflicting })),
        ),
      );
      console.log(`dry run: ${total(report.outcomes, "inserted")} rows would be inserted into ${live}; nothing was changed`);
      return;
    }
    throw new UsageError(
      asked && process.stdin.isTTY ? "nothing inserted" : `nothing inserted: run again with --yes to insert them (or --dry-run to see the counts)`,
    );
  }
  console.log(
    `inserted ${total(report.outcomes, "inserted")} rows of organization ${organizationId} into ${live} from backup ${report.backup.id}; ` +
      `${total(report.outcomes, "conflicting")} could not come back (a live row holds their unique key); scratch database ${report.scratchDatabase} dropped`,
  );
  console.log(`rows written after ${report.backup.takenAt} are not in this backup: what the organization wrote after it and lost cannot come back from it`);
});
