/** `npm run db:inspect [section ...] [--json]`: the database at DATABASE_URL, explained. */
import { parseArgs } from "node:util";
import { inspectionReport, SECTIONS, type Section } from "../functions/inspection-report.js";
import { closeDbPools, directDb } from "../lib/db/pool.js";
import { runCli, UsageError } from "./cli.js";
import { formatTable } from "./format-table.js";

const USAGE = `usage: npm run db:inspect -- [section ...] [--json] [--long-running-seconds N]
  sections: ${SECTIONS.join(", ")}, or all (the default)`;

function sectionsOf(names: string[]): Section[] {
  if (names.length === 0 || names.includes("all")) return [...SECTIONS];
  for (const name of names) {
    if (!(SECTIONS as readonly string[]).includes(name)) throw new UsageError(`unknown section "${name}"\n${USAGE}`);
  }
  return names as Section[];
}

await runCli(async () => {
  let parsed;
  try {
    parsed = parseArgs({
      args: process.argv.slice(2),
      allowPositionals: true,
      options: { json: { type: "boolean" }, "long-running-seconds": { type: "string" }, help: { type: "boolean", short: "h" } },
    });
  } catch (error) {
    throw new UsageError(`${error instanceof Error ? error.message : String(error)}\n${USAGE}`);
  }
  if (parsed.values.help) {
    console.log(USAGE);
    return;
  }
  const rawSeconds = parsed.values["long-running-seconds"];
  const longRunningSeconds = rawSeconds === undefined ? undefined : Number(rawSeconds);
  if (longRunningSeconds !== undefined && !(longRunningSeconds >= 0)) throw new UsageError(`--long-running-seconds must be a number of seconds\n${USAGE}`);
  const report = await inspectionReport(directDb(), sectionsOf(parsed.positionals), { longRunningSeconds });
  await closeDbPools();
  if (parsed.values.json) {
    console.log(JSON.stringify(report, null, 2));
    return;
  }
  for (const [section, { tables, notes }] of Object.entries(report)) {
    console.log(`\n== ${section}`);
    for (const note of notes) console.log(`  note: ${note}`);
    for (const [name, rows] of Object.entries(tables)) console.log(`\n${name}\n${formatTable(rows)}`);
  }
});
