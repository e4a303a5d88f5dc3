/** `npm run db:backup`: one backup of DATABASE_URL into BACKUP_DIR (and the bucket) now; a failure alerts, as the cron's does. */
import { backupJob } from "../functions/backup.js";
import { config } from "../lib/config.js";
import { closeDbPools } from "../lib/db/pool.js";
import { runCli, useDatabase, useLocalSigningKey } from "./cli.js";

await runCli(async () => {
  await useDatabase();
  await useLocalSigningKey({ create: true });
  const result = await backupJob();
  await closeDbPools();
  const megabytes = (result.sizeBytes / 1024 / 1024).toFixed(1);
  console.log(
    `backup ${result.id}: ${result.tables} tables, ${result.rows} rows, ${megabytes} MB in ${result.seconds} s${result.encrypted ? ", encrypted (age)" : ", NOT encrypted"}, signed`,
  );
  for (const copy of result.copies) console.log(`  ${copy.startsWith("s3:") ? "bucket " : "archive"}  ${copy}`);
  console.log(`  sha256   ${result.sha256}`);
  if (result.pruned) console.log(`  removed ${result.pruned} backup(s) older than ${config().backups.retentionDays} days`);
  if (result.pruneError) console.log(`  warning: removing expired backups failed (${result.pruneError}); the backup itself succeeded`);
});
