/**
 * `npm run db:restore -- <latest|archive|manifest|s3://bucket/key> --target <postgres-url>`
 * (or `--backup <id>`): checks a backup (its signature, checksum and encryption) and restores
 * it into an empty database in one transaction, then checks every table's row count.
 * `--verify` only checks. Needs no database of its own: the bucket settings, the age identity
 * and the signing key suffice, on a fresh machine.
 */
import { restoreChosenBackup, verifyChosenBackup, type BackupChoice } from "../functions/restore.js";
import { timeAndAge } from "../lib/backups/catalog.js";
import { isPostgresUrl } from "../lib/config.js";
import { classifiedDbError, DbUnavailableError } from "../lib/db/errors.js";
import { redactedUrl } from "../lib/db/target.js";
import { commandLine, runCli, UsageError, useLocalSigningKey } from "./cli.js";

const USAGE = `usage: npm run db:restore -- <latest | archive | manifest.json | s3://bucket/key> --target <postgres-url> [--allow-unsigned]
       npm run db:restore -- --backup <id> --target <postgres-url> [--allow-unsigned]
       npm run db:restore -- <latest | archive | ... | --backup id> --verify
  latest: the newest backup, in the bucket when BACKUP_S3_BUCKET is set, else in BACKUP_DIR; refused, naming why, when it cannot be
          restored (an older one is restored only when named with --backup <id>)`;

function choiceOf(positionals: string[], backupId: string | undefined): BackupChoice {
  const [what, ...extra] = positionals;
  if (extra.length || (what !== undefined && backupId !== undefined) || (what === undefined && backupId === undefined)) {
    throw new UsageError(`give one backup: latest, an archive, a manifest, an s3:// URL, or --backup <id>\n${USAGE}`);
  }
  if (backupId !== undefined) {
    if (!/^\d{1,18}$/.test(backupId)) throw new UsageError(`--backup must be a backup id (a number)\n${USAGE}`);
    return { id: backupId };
  }
  return what === "latest" ? { latest: true } : { location: what ?? "" };
}

await runCli(async () => {
  const parsed = commandLine(
    {
      args: process.argv.slice(2),
      allowPositionals: true,
      options: { target: { type: "string" }, verify: { type: "boolean" }, backup: { type: "string" }, "allow-unsigned": { type: "boolean" } },
    },
    USAGE,
  );
  const { target, verify, backup } = parsed.values;
  const allowUnsigned = parsed.values["allow-unsigned"] ?? false;
  const choice = choiceOf(parsed.positionals, backup);
  if (!verify && (!target || !isPostgresUrl(target))) throw new UsageError(`--target must be a postgres:// URL of an empty database\n${USAGE}`);
  await useLocalSigningKey({ create: false });
  if (verify) {
    const { manifest, archiveLocation, trust, catalogNote } = await verifyChosenBackup(choice, { allowUnsigned });
    if (catalogNote) console.log(catalogNote);
    console.log(
      `${archiveLocation}: intact (backup ${manifest.backupId}, taken ${timeAndAge(manifest.finishedAt)}; sha256 ${manifest.sha256}, ${Object.keys(manifest.tables).length} tables` +
        `${manifest.auth ? `, ${manifest.auth.tables["auth.users"] ?? 0} auth users` : ""}; ` +
        `${manifest.encryption ? "encrypted, decrypts with this identity" : "not encrypted"}; ${trust === "signed" ? "signed by this installation" : `NOT signed by this installation (${trust})`})`,
    );
    return;
  }
  const targetUrl = target ?? "";
  try {
    const result = await restoreChosenBackup(choice, targetUrl, { allowUnsigned });
    if (result.catalogNote) console.log(result.catalogNote);
    console.log(
      `restored backup ${result.manifest.backupId} (taken ${timeAndAge(result.takenAt)}): ${result.tables} tables, ${result.rows} rows from ${result.archiveLocation} ` +
        `into ${redactedUrl(targetUrl)} in ${result.seconds} s (ANALYZE ${result.analyzeSeconds} s); row counts match the manifest`,
    );
    if (result.auth?.status === "restored") {
      const providers = Object.entries(result.auth.identities)
        .map(([provider, n]) => `${provider} ${n}`)
        .join(", ");
      console.log(
        `  auth: ${result.auth.users} users restored with their ids${providers ? ` (identities: ${providers})` : ""}; every platform user has its auth.users row as in the backup`,
      );
    } else if (result.auth?.status === "skipped") {
      console.log(`  auth: NOT restored: ${result.auth.reason}`);
    }
    if (result.trust !== "signed")
      console.log(`  warning: the archive's manifest is not signed by this installation (${result.trust}); restored because of --allow-unsigned`);
    for (const extension of result.extensions) {
      if (extension.status !== "present") console.log(`  extension ${extension.name}: ${extension.status}${extension.reason ? ` (${extension.reason})` : ""}`);
    }
    if (result.record?.unconfirmedCopies)
      console.log(`  record: ${result.record.unconfirmedCopies} copies on a disk this machine cannot see are marked unconfirmed`);
    if (result.record && !result.record.copiesMarked)
      console.log("  record: the backup predates the 'unconfirmed' copy status; its copies on disk keep their old status until checked");
  } catch (error) {
    const unavailable = classifiedDbError(error);
    if (unavailable instanceof DbUnavailableError) throw new Error(`cannot reach the target ${redactedUrl(targetUrl)} (${unavailable.reason})`);
    throw error;
  }
});
