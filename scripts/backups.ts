/**
 * `npm run db:backups -- [--verify] [--json]`: the backups in BACKUP_DIR and in the bucket,
 * read from their manifests (no database needed): id, time, size, encrypted, signed, verified.
 */
import { backupListing } from "../functions/backup-catalog.js";
import { commandLine, runCli, useLocalSigningKey } from "./cli.js";
import { formatTable } from "./format-table.js";

const USAGE = `usage: npm run db:backups -- [--verify] [--json]
  --verify  read every archive back whole and check its SHA-256 (downloads the bucket's)`;

await runCli(async () => {
  const { values } = commandLine({ args: process.argv.slice(2), options: { verify: { type: "boolean" }, json: { type: "boolean" } } }, USAGE);
  await useLocalSigningKey({ create: false });
  const rows = await backupListing({ readBack: values.verify ?? false });
  if (values.json) {
    console.log(JSON.stringify(rows, null, 2));
    return;
  }
  console.log(formatTable(rows));
});
