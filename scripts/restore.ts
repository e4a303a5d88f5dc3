/**
 * `npm run db:restore -- <archive.dump|manifest.json> --target <postgres-url>`: checks the
 * archive against its manifest, restores it into an empty database in one transaction, and
 * checks every table's row count. `--verify` only checks the archive.
 */
import { restoreBackup, verifiedBackup } from "../lib/backups/archive.js";
import { config, isPostgresUrl } from "../lib/config.js";
import { classifiedDbError, DbUnavailableError } from "../lib/db/errors.js";
import { redactedUrl } from "../lib/db/target.js";
import { commandLine, runCli, UsageError } from "./cli.js";

const USAGE = `usage: npm run db:restore -- <archive.dump|manifest.json> --target <postgres-url>
       npm run db:restore -- <archive.dump|manifest.json> --verify`;

await runCli(async () => {
  const parsed = commandLine({ args: process.argv.slice(2), allowPositionals: true, options: { target: { type: "string" }, verify: { type: "boolean" } } }, USAGE);
  const [file, ...extra] = parsed.positionals;
  const { target, verify } = parsed.values;
  if (!file || extra.length) throw new UsageError(`give one archive or manifest\n${USAGE}`);
  if (verify) {
    const { manifest, archivePath } = await verifiedBackup(file);
    console.log(`${archivePath}: intact (sha256 ${manifest.sha256}, ${Object.keys(manifest.tables).length} tables, taken ${manifest.finishedAt})`);
    return;
  }
  if (!target || !isPostgresUrl(target)) throw new UsageError(`--target must be a postgres:// URL of an empty database\n${USAGE}`);
  try {
    const result = await restoreBackup({ file, targetUrl: target, binDir: config().backups.pgBinDir });
    console.log(`restored ${result.tables} tables, ${result.rows} rows into ${redactedUrl(target)} in ${result.seconds} s; row counts match the manifest`);
    if (result.missingExtensions.length) console.log(`  note: the target does not offer ${result.missingExtensions.join(", ")}`);
  } catch (error) {
    const unavailable = classifiedDbError(error);
    if (unavailable instanceof DbUnavailableError) throw new Error(`cannot reach the target ${redactedUrl(target)} (${unavailable.reason})`);
    throw error;
  }
});
