/**
 * `npm run db:inspect [section ...] [--json]`: the database at DATABASE_URL, explained.
 * `npm run db:inspect -- cancel|terminate <pid> [--yes]`: stop a session's query, or the session.
 */
import { inspectionReport, SECTIONS, type ReportOptions, type Section } from "../functions/inspection-report.js";
import { signalSession, type SessionSignal } from "../functions/session-signal.js";
import { closeDbPools, directDb } from "../lib/db/pool.js";
import { SLOW_STATEMENT } from "../lib/db/inspect/statements.js";
import { commandLine, numberOptions, runCli, timeOrAge, UsageError, useDatabase, type NumberBounds } from "./cli.js";
import { formatTable } from "./format-table.js";

const USAGE = `usage: npm run db:inspect -- [section ...] [--json] [options]
       npm run db:inspect -- cancel <pid> [--yes]      stop the session's running query
       npm run db:inspect -- terminate <pid> [--yes]   end the session
  sections: ${SECTIONS.join(", ")}, or all (the default)
  cancel and terminate show the session and do nothing without --yes; they refuse this
  inspecting session itself and the server's own processes.
  options:
    --long-running-seconds N   a query running this long is long-running (default 60)
    --slow-min-calls N         a slow statement was called at least N times (default ${SLOW_STATEMENT.minCalls})
    --slow-min-mean-ms N       and took at least N ms on average (default ${SLOW_STATEMENT.minMeanMs})
    --advice-min-cost-cut R    advise an index that removes at least this share of a plan's cost, 0 to 1 (default 0.5)
    --since TIME               the changes section from this time: 2026-12-06T03:00Z, or an age such as 90m, 6h, 3d (default 24h)`;

const NUMBER_OPTIONS = {
  "long-running-seconds": { key: "longRunningSeconds", bounds: {} },
  "slow-min-calls": { key: "slowMinCalls", bounds: {} },
  "slow-min-mean-ms": { key: "slowMinMeanMs", bounds: {} },
  "advice-min-cost-cut": { key: "adviceMinCostCut", bounds: { max: 1 } },
} as const satisfies Record<string, { key: keyof ReportOptions; bounds: NumberBounds }>;

function sectionsOf(names: string[]): Section[] {
  if (names.length === 0 || names.includes("all")) return [...SECTIONS];
  for (const name of names) {
    if (!(SECTIONS as readonly string[]).includes(name)) throw new UsageError(`unknown section "${name}"\n${USAGE}`);
  }
  return names as Section[];
}

const SIGNALS = { cancel: "cancelled the running query of", terminate: "terminated" } as const satisfies Record<SessionSignal, string>;

function isSignal(word: string | undefined): word is SessionSignal {
  return word !== undefined && Object.hasOwn(SIGNALS, word);
}

function pidOf(args: string[]): number {
  const [raw, ...rest] = args;
  if (raw === undefined || rest.length > 0) throw new UsageError(`give exactly one pid\n${USAGE}`);
  const pid = Number(raw);
  if (!/^[1-9][0-9]{0,9}$/.test(raw) || pid > 2 ** 31 - 1) throw new UsageError(`"${raw}" is not a pid (a whole number from 1 to 2147483647)\n${USAGE}`);
  return pid;
}

async function signal(kind: SessionSignal, args: string[], { yes, json }: { yes: boolean; json: boolean }): Promise<void> {
  const pid = pidOf(args);
  const outcome = await signalSession(directDb(), pid, kind, { confirmed: yes });
  await closeDbPools();
  if (json) console.log(JSON.stringify(outcome, null, 2));
  else console.log(formatTable([outcome.session]));
  if (!outcome.sent) throw new UsageError(`nothing sent: run again with --yes to ${kind} session ${pid}`);
  if (!json) console.log(`${SIGNALS[kind]} session ${pid}`);
}

await runCli(async () => {
  const parsed = commandLine(
    {
      args: process.argv.slice(2),
      allowPositionals: true,
      options: {
        json: { type: "boolean" },
        yes: { type: "boolean" },
        help: { type: "boolean", short: "h" },
        since: { type: "string" },
        ...Object.fromEntries(Object.keys(NUMBER_OPTIONS).map((flag) => [flag, { type: "string" as const }])),
      },
    },
    USAGE,
  );
  if (parsed.values.help) {
    console.log(USAGE);
    return;
  }
  await useDatabase();
  const [first, ...rest] = parsed.positionals;
  if (isSignal(first)) {
    await signal(first, rest, { yes: parsed.values.yes === true, json: parsed.values.json === true });
    return;
  }
  if (parsed.values.yes) throw new UsageError(`--yes goes with cancel or terminate\n${USAGE}`);
  const changesSince = parsed.values.since === undefined ? undefined : timeOrAge(parsed.values.since, "--since", USAGE);
  const options = { ...numberOptions(NUMBER_OPTIONS, parsed.values, USAGE), ...(changesSince ? { changesSince } : {}) };
  const report = await inspectionReport(directDb(), sectionsOf(parsed.positionals), options);
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
