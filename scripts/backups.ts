/**
 * `npm run db:backups -- [--verify] [--json]`: the backups in BACKUP_DIR and in the bucket,
 * read from their manifests (no database needed): id, time, size, encrypted, signed, verified.
 */
import { backupListing } from "../functions/backup-catalog.js";
import { commandLine, runCli, useLocalSigningKey } from "./cli.js";
import { formatTable } from "./format-table.js";

const USAGE = `usage: npm run db:backups -- [--verify] [--json]
  --verify  read every archive back whole and check its SHA-256 (reads the bucket's); exits 1 when any copy fails`;

await runCli(async () => {
  const { values } = commandLine({ args: process.argv.slice(2), options: { verify: { type: "boolean" }, json: { type: "boolean" } } }, USAGE);
  await useLocalSigningKey({ create: false });
  const rows = await backupListing({ readBack: values.verify ?? false });
  console.log(values.json ? JSON.stringify(rows, null, 2) : formatTable(rows));
  const failing = rows.filter((row) => !row.verified);
  if (values.verify && failing.length) {
    console.error(
      `error: ${failing.length} of ${rows.length} copies failed verification: ${failing.map((row) => `${row.location} (${row.problem ?? row.signed})`).join("; ")}`,
    );
    process.exitCode = 1;
  }
});
