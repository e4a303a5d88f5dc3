/** `npm run db:backup`: one backup of DATABASE_URL into BACKUP_DIR now (a failure alerts, as the cron's does). */
import { backupJob } from "../functions/backup.js";
import { config } from "../lib/config.js";
import { closeDbPools } from "../lib/db/pool.js";
import { runCli } from "./cli.js";

await runCli(async () => {
  const result = await backupJob();
  await closeDbPools();
  const megabytes = (result.sizeBytes / 1024 / 1024).toFixed(1);
  console.log(`backup ${result.id}: ${result.tables} tables, ${result.rows} rows, ${megabytes} MB in ${result.seconds} s`);
  console.log(`  archive  ${result.location}`);
  console.log(`  sha256   ${result.sha256}`);
  if (result.pruned) console.log(`  removed ${result.pruned} archive(s) older than ${config().backups.retentionDays} days`);
});
