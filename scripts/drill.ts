/**
 * `npm run db:drill -- [archive | s3://bucket/key] [--server <postgres-url>] [--keep] [--no-advice]`: a
 * disaster-recovery drill of the newest backup (from the bucket when one is set) or the one
 * given, measured and recorded in ops.dr_drills.
 */
import { drillJob } from "../functions/dr-drill.js";
import { timeAndAge } from "../lib/backups/catalog.js";
import { isPostgresUrl } from "../lib/config.js";
import { closeDbPools } from "../lib/db/pool.js";
import { commandLine, runCli, UsageError, useDatabase, useLocalSigningKey } from "./cli.js";
import { bytesText } from "../lib/units.js";

const USAGE = `usage: npm run db:drill -- [archive.dump | manifest.json | s3://bucket/key] [--server <postgres-url>] [--keep] [--no-advice]
  --no-advice   do not measure the index advice on the restored copy (it runs after the recovery time is taken)`;

await runCli(async () => {
  const parsed = commandLine(
    {
      args: process.argv.slice(2),
      allowPositionals: true,
      options: { server: { type: "string" }, keep: { type: "boolean" }, "no-advice": { type: "boolean" } },
    },
    USAGE,
  );
  const [file, ...extra] = parsed.positionals;
  if (extra.length) throw new UsageError(`give at most one archive\n${USAGE}`);
  const { server, keep } = parsed.values;
  if (server !== undefined && !isPostgresUrl(server)) throw new UsageError(`--server must be a postgres:// URL\n${USAGE}`);
  await useDatabase();
  await useLocalSigningKey({ create: false });
  const result = await drillJob({
    file,
    serverUrl: server,
    keep,
    measureAdvice: parsed.values["no-advice"] !== true,
    onPlan: (plan) =>
      console.log(
        `drilling backup ${plan.backupId} (taken ${timeAndAge(plan.takenAt)}) from ${plan.source}` +
          (plan.spaceNeededBytes === null ? "" : `; the server needs about ${bytesText(plan.spaceNeededBytes)} free (the database plus max_wal_size)`),
      ),
  });
  await closeDbPools();
  const hours = (result.dataAgeSeconds / 3600).toFixed(1);
  console.log(
    `drill ${result.id}: recovered ${result.tables} tables, ${result.rows} rows (${bytesText(result.restoredBytes)}) in ${result.recoverySeconds} s ` +
      `(ANALYZE ${result.analyzeSeconds} s; data ${hours} h old${result.backupId ? `, backup ${result.backupId}` : ""}); row counts match; ${result.applicationCheck}`,
  );
  console.log(`  source  ${result.source}`);
  console.log(
    !result.advice.measured
      ? `  advice  not measured: ${result.advice.reason}`
      : result.advice.suggested + result.advice.notSuggested + result.advice.withheld + result.advice.notMeasured === 0
        ? `  advice  nothing to measure on the copy (${result.advice.seconds} s): hypopg suggested no index and none is unused or redundant`
        : `  advice  measured on the copy in ${result.advice.seconds} s: ${result.advice.suggested} suggested, ${result.advice.notSuggested} not suggested, ${result.advice.withheld} withheld, ${result.advice.notMeasured} not measured (npm run db:advise shows them)`,
  );
  console.log(result.kept ? `  scratch database kept: ${result.scratchDatabase}` : `  scratch database ${result.scratchDatabase} dropped`);
});
