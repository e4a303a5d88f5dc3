/**
 * `npm run db:advise -- --on <url of a restored copy>`: the index advice for DATABASE_URL,
 * measured on the copy (functions/measured-advice.ts) and recorded. Without --on: the newest
 * advice measured, by the drill or by this command.
 */
import { measureAdvice, type MeasureAdviceOptions } from "../functions/measured-advice.js";
import { isPostgresUrl } from "../lib/config.js";
import { newestMeasuredAdvice, type MeasuredAdvice } from "../lib/data/measured-advice.js";
import { closeDbPools, directDb } from "../lib/db/pool.js";
import { commandLine, numberOptions, runCli, UsageError, useDatabase, type NumberBounds } from "./cli.js";

const USAGE = `usage: npm run db:advise -- --on <postgres-url> [--json] [options]   measure the advice on a restored copy
       npm run db:advise -- [--json]                                      the newest advice measured (by the drill or --on)
  --on URL                  a restored copy of DATABASE_URL (never the database itself): indexes are built and dropped
                            there and the plain reads they concern are timed, all in a transaction rolled back after
  options:
    --runs N                timed runs of each statement and value set, after one warming run (default 3)
    --value-sets N          parameter value sets drawn from the copy's statistics (default 5)
    --slow-min-calls N      index suggestions for statements called at least N times (default 100)
    --slow-min-mean-ms N    and taking at least N ms on average (default 20)
    --statement-timeout-ms N  each execution's limit on the copy (default 30000)
    --budget-seconds N      what is left once the measurement has run this long is marked not measured (default 600)`;

const NUMBER_OPTIONS = {
  runs: { key: "runs", bounds: { min: 1, integer: true } },
  "value-sets": { key: "valueSets", bounds: { min: 1, integer: true } },
  "slow-min-calls": { key: "minCalls", bounds: { integer: true } },
  "slow-min-mean-ms": { key: "minMeanMs", bounds: {} },
  "statement-timeout-ms": { key: "statementTimeoutMs", bounds: { min: 1, integer: true } },
  "budget-seconds": { key: "budgetSeconds", bounds: {} },
} as const satisfies Record<string, { key: keyof MeasureAdviceOptions; bounds: NumberBounds }>;

function printed(advice: readonly MeasuredAdvice[]): void {
  if (!advice.length) console.log("nothing to measure: no index suggested by hypopg and none unused or redundant");
  for (const row of advice) {
    console.log(`\n${row.verdict.toUpperCase()}  ${row.kind === "create" ? "build" : "drop"} ${row.index} on ${row.table}`);
    console.log(`  ${row.reason}`);
    if (row.query) console.log(`  statement: ${row.query.replace(/\s+/g, " ").slice(0, 160)}`);
    if (row.verdict === "suggested") console.log(`  run: ${row.statement}`);
  }
}

await runCli(async () => {
  const parsed = commandLine(
    {
      args: process.argv.slice(2),
      options: {
        on: { type: "string" },
        json: { type: "boolean" },
        help: { type: "boolean", short: "h" },
        ...Object.fromEntries(Object.keys(NUMBER_OPTIONS).map((flag) => [flag, { type: "string" as const }])),
      },
    },
    USAGE,
  );
  if (parsed.values.help) {
    console.log(USAGE);
    return;
  }
  const { on, json } = parsed.values;
  if (on !== undefined && !isPostgresUrl(on)) throw new UsageError(`--on must be a postgres:// URL of a restored copy\n${USAGE}`);
  const options = numberOptions(NUMBER_OPTIONS, parsed.values, USAGE);
  if (on === undefined && Object.keys(options).length) throw new UsageError(`the options measure: they go with --on\n${USAGE}`);
  await useDatabase();
  if (on === undefined) {
    const newest = await newestMeasuredAdvice(directDb());
    await closeDbPools();
    if (json) console.log(JSON.stringify(newest ?? null, null, 2));
    else if (!newest)
      console.log(
        "no measured advice recorded: the weekly drill measures hypopg's suggestions and the unused or redundant indexes on its copy when there are any, or run npm run db:advise -- --on <url of a restored copy>",
      );
    else {
      console.log(
        `measured ${newest.measuredAt}${newest.drillId ? ` by drill ${newest.drillId}` : ""}${newest.copyTakenAt ? ` on the copy of ${newest.copyTakenAt}` : ""}`,
      );
      printed(newest.advice);
    }
    return;
  }
  const result = await measureAdvice(directDb(), on, options);
  await closeDbPools();
  if (json) {
    console.log(JSON.stringify(result, null, 2));
    return;
  }
  for (const note of result.notes) console.log(`note: ${note}`);
  printed(result.advice);
  console.log(`\nmeasured in ${result.seconds} s; recorded as run ${result.runId} in ops.measured_advice`);
});
