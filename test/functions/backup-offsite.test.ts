/**
 * Backups copied off the machine, against a real S3-compatible server (s3rver) and the real
 * pg_dump and pg_restore: encrypted as written, uploaded and read back, restorable from the
 * bucket alone, and every way the store can fail.
 */
import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { generateIdentity, identityToRecipient } from "age-encryption";
import { manifestPathOf } from "../../lib/backups/names.js";
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from "vitest";
import { backupJob, takeBackup } from "../../functions/backup.js";
import { backupListing } from "../../functions/backup-catalog.js";
import { drillJob } from "../../functions/dr-drill.js";
import { restoreChosenBackup } from "../../functions/restore.js";
import { BackupIntegrityError, BackupStoreError, BackupUntrustedError } from "../../lib/backups/errors.js";
import { signingKeyId } from "../../lib/backups/manifest.js";
import { directDb } from "../../lib/db/pool.js";
import { useConfig } from "../harness/config.js";
import { seededDemo } from "../harness/demo.js";
import { TEST_SIGNING_KEY } from "../harness/file-database.js";
import { adminConnection } from "../harness/postgres-admin.js";
import { throwawayDatabases } from "../harness/throwaway-databases.js";
import { startTestBucketStore, type TestBucketStore } from "../harness/s3.js";
import { runScript } from "../harness/scripts.js";
import { commandAvailable } from "../harness/services.js";
import { webhookReceiver, type WebhookReceiver } from "../harness/webhook.js";
import { quietConsole } from "../harness/console.js";

const BUCKET = "gap-backups";
const withPgTools = commandAvailable("pg_dump") && commandAvailable("pg_restore");
const databases = throwawayDatabases(inject("serverUrl"));
let store: TestBucketStore;
let hook: WebhookReceiver;
let backupDir: string;
let identity: string;
let recipient: string;
let settings: Record<string, string>;

async function tableCount(url: string): Promise<number> {
  const sql = adminConnection(url);
  const [row] = await sql<{ n: number }[]>`select count(*)::int as n from pg_tables where schemaname in ('public', 'ops')`;
  await sql.end();
  return row?.n ?? -1;
}

const sha256 = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");
const alerts = (key: string) =>
  hook.received.map((r) => (r.body as { alert: { key: string; status: string; summary: string } }).alert).filter((a) => a.key === key);

async function useBucket(extra: Record<string, string> = {}): Promise<void> {
  await useConfig({
    BACKUP_DIR: backupDir,
    ALERT_WEBHOOK_URL: hook.url,
    BACKUP_AGE_RECIPIENTS: recipient,
    BACKUP_AGE_IDENTITY: identity,
    PG_BIN_DIR: "",
    ...settings,
    ...extra,
  });
}

beforeAll(async () => {
  store = await startTestBucketStore();
  await store.createBucket(BUCKET);
  hook = await webhookReceiver();
  backupDir = await mkdtemp(path.join(tmpdir(), "gap-offsite-"));
  identity = await generateIdentity();
  recipient = await identityToRecipient(identity);
  settings = store.settings(BUCKET);
  await seededDemo();
});
afterAll(async () => {
  await store.close();
  await hook.close();
  await databases.dropAll();
  await rm(backupDir, { recursive: true, force: true });
});
beforeEach(async () => {
  store.restore();
  await useBucket();
  return quietConsole("error", "log");
});

describe.skipIf(!withPgTools)("a backup with a bucket", () => {
  it("is encrypted as written, copied to the bucket, read back, and each copy recorded", async () => {
    const result = await takeBackup();
    const local = fileURLToPath(result.location);
    const name = path.basename(local);
    expect(name).toMatch(/^gap-\d{8}T\d{6}Z-\d+\.dump\.zst\.age$/);
    expect(result.copies).toEqual([result.location, `s3://${BUCKET}/backups/${name}`]);
    const bytes = await readFile(local);
    expect(bytes.subarray(0, 22).toString()).toBe("age-encryption.org/v1\n");
    expect(bytes.includes(Buffer.from("PGDMP"))).toBe(false);
    expect(sha256(bytes)).toBe(result.sha256);
    const stored = await store.read(BUCKET, `backups/${name}`);
    expect(sha256(stored)).toBe(result.sha256);
    const manifest = JSON.parse((await store.read(BUCKET, manifestPathOf(`backups/${name}`))).toString());
    expect(manifest).toMatchObject({
      backupId: result.id,
      archive: name,
      sha256: result.sha256,
      sizeBytes: bytes.length,
      encryption: { format: "age", recipients: [recipient] },
      compression: "zstd",
      databaseBytes: expect.any(Number),
      auth: null,
      signature: { algorithm: "HMAC-SHA256", keyId: signingKeyId(TEST_SIGNING_KEY) },
    });
    expect(manifest.databaseBytes).toBeGreaterThan(bytes.length);
    const copies = await directDb()`
      select location, status, sha256, size_bytes::float8 as size from ops.backup_copies where backup_id = ${result.id} order by location`;
    expect(copies).toEqual([
      { location: result.location, status: "verified", sha256: result.sha256, size: bytes.length },
      { location: `s3://${BUCKET}/backups/${name}`, status: "verified", sha256: result.sha256, size: bytes.length },
    ]);
    const [row] = await directDb()`select status, encrypted, signed from ops.backups where id = ${result.id}`;
    expect(row).toEqual({ status: "succeeded", encrypted: true, signed: true });
  });

  it("restores from the bucket alone on a fresh machine: latest, by id, and by s3:// URL", async () => {
    const backup = await takeBackup();
    const fresh = await mkdtemp(path.join(tmpdir(), "gap-fresh-"));
    const env = {
      ...settings,
      DATABASE_URL: "",
      LOCAL_DATA_DIR: fresh,
      BACKUP_DIR: "",
      BACKUP_AGE_IDENTITY: identity,
      BACKUP_SIGNING_KEY: TEST_SIGNING_KEY,
      BACKUP_AGE_RECIPIENTS: "",
    };
    const target = await databases.empty();
    const restored = await runScript("restore", ["latest", "--target", target], env);
    expect(restored.stderr).not.toMatch(/error/i);
    expect(restored.code).toBe(0);
    expect(restored.stdout).toMatch(
      new RegExp(
        `^restored backup ${backup.id} \\(taken \\S+Z, \\d+ min old\\): \\d+ tables, ${backup.rows} rows from s3://${BUCKET}/backups/gap-\\d{8}T\\d{6}Z-${backup.id}\\.dump\\.zst\\.age into `,
        "m",
      ),
    );
    expect(restored.stdout).toContain("ops.backups not read (DATABASE_URL is not set): judged by the catalog alone");
    const digest = `select md5(string_agg(id::text || content, ',' order by id)) as digest from conversation_messages`;
    const copy = adminConnection(target);
    const [[original], [copied]] = await Promise.all([directDb().unsafe(digest), copy.unsafe(digest)]);
    await copy.end();
    expect(copied?.digest).toBe(original?.digest);
    const listing = await runScript("backups", ["--json"], env);
    const rows = JSON.parse(listing.stdout) as Array<{ where: string; id: string; encrypted: boolean; signed: string; verified: boolean }>;
    expect(rows.find((r) => r.id === backup.id)).toMatchObject({ where: "bucket", encrypted: true, signed: "signed", verified: true });
    expect(rows.every((r) => r.where === "bucket")).toBe(true);
    expect((await runScript("restore", ["--backup", backup.id, "--target", await databases.empty()], env)).code).toBe(0);
    const byUrl = await restoreChosenBackup({ location: backup.copies[1] ?? "" }, await databases.empty());
    expect(byUrl).toMatchObject({ trust: "signed", rows: backup.rows, archiveLocation: backup.copies[1] });
    await rm(fresh, { recursive: true, force: true });
  });

  it("lists local and bucket copies with id, time, size, encryption, signature and verification", async () => {
    const backup = await takeBackup();
    const rows = await backupListing({ readBack: true });
    const mine = rows.filter((r) => r.id === backup.id);
    expect(mine.map((r) => r.where).sort()).toEqual(["bucket", "local"]);
    for (const row of mine) {
      expect(row).toMatchObject({ sizeBytes: backup.sizeBytes, encrypted: true, signed: "signed", verified: true, problem: null });
      expect(Date.parse(row.finishedAt ?? "")).toBeGreaterThan(Date.now() - 60_000);
    }
    const table = await runScript("backups", [], { ...settings, DATABASE_URL: "", BACKUP_DIR: backupDir, BACKUP_SIGNING_KEY: TEST_SIGNING_KEY });
    expect(table.code).toBe(0);
    expect(table.stdout.split("\n")[0]).toMatch(/^\s*where\s+id\s+finishedAt\s+sizeBytes\s+encrypted\s+signed\s+verified\s+location\s+problem$/);
  });

  it("refuses a tampered object in the bucket before touching the target, and shows it unverified", async () => {
    const backup = await takeBackup();
    const key = `backups/${path.basename(fileURLToPath(backup.location))}`;
    const bytes = await store.read(BUCKET, key);
    bytes.writeUInt8(bytes.readUInt8(bytes.length - 100) ^ 0xff, bytes.length - 100);
    await store.write(BUCKET, key, bytes);
    const target = await databases.empty();
    await expect(restoreChosenBackup({ latest: true }, target)).rejects.toThrow(BackupIntegrityError);
    await expect(restoreChosenBackup({ latest: true }, target)).rejects.toThrow(/does not match its manifest/);
    expect(await tableCount(target)).toBe(0);
    const listed = (await backupListing({ readBack: true })).find((r) => r.where === "bucket" && r.id === backup.id);
    expect(listed).toMatchObject({ verified: false, problem: `s3://${BUCKET}/${key} does not match its manifest's SHA-256` });
  });

  it("refuses a wrong or missing age identity with a clear error before touching the target", async () => {
    await takeBackup();
    const target = await databases.empty();
    await useBucket({ BACKUP_AGE_IDENTITY: await generateIdentity() });
    await expect(restoreChosenBackup({ latest: true }, target)).rejects.toThrow(BackupUntrustedError);
    await expect(restoreChosenBackup({ latest: true }, target)).rejects.toThrow(
      "the archive is not encrypted to the configured age identity (BACKUP_AGE_IDENTITY or BACKUP_AGE_IDENTITY_FILE): use the secret key of one of its recipients",
    );
    await useBucket({ BACKUP_AGE_IDENTITY: "" });
    await expect(restoreChosenBackup({ latest: true }, target)).rejects.toThrow(/^the archive is encrypted: set BACKUP_AGE_IDENTITY/);
    expect(await tableCount(target)).toBe(0);
    const extensions = adminConnection(target);
    expect(await extensions`select extname from pg_extension where extname <> 'plpgsql'`).toHaveLength(0);
    await extensions.end();
  });

  it("fails the run with the store's reason when the store stops mid-upload, alerts, and keeps the local copy", async () => {
    store.cutAfter(15_000);
    const failed = await backupJob().catch((error: unknown) => error);
    expect(store.cut()).toBe(true);
    expect(failed).toBeInstanceOf(BackupStoreError);
    const message = (failed as Error).message;
    expect(message).toMatch(new RegExp(`^uploading s3://${BUCKET}/backups/gap-\\S+\\.dump\\.zst\\.age failed: \\S+`));
    expect(message).toMatch(/; the archive is kept at \/\S+\.dump\.zst\.age$/);
    const kept = /the archive is kept at (\S+)$/.exec(message)?.[1] ?? "";
    expect((await stat(kept)).size).toBeGreaterThan(15_000);
    const [run] = await directDb()`select id::text as id, status, error from ops.backups order by id desc limit 1`;
    expect(run).toMatchObject({ status: "failed", error: message });
    const copies = await directDb()`select location, status from ops.backup_copies where backup_id = ${run?.id} order by location`;
    expect(copies.map((c) => [c.location.slice(0, 5), c.status])).toEqual([
      ["file:", "verified"],
      ["s3://", "failed"],
    ]);
    expect(alerts("job:backup").at(-1)).toMatchObject({ status: "firing", summary: `job backup failed: ${message}` });
    store.restore();
    await backupJob();
    expect(alerts("job:backup").at(-1)?.status).toBe("resolved");
  });

  it("names a missing bucket and refused credentials, without the secret", async () => {
    await useBucket(store.settings("no-such-bucket"));
    await expect(takeBackup()).rejects.toThrow(
      /^uploading s3:\/\/no-such-bucket\/backups\/\S+ failed: NoSuchBucket: The specified bucket does not exist \(HTTP 404\); the archive is kept at /,
    );
    // s3rver checks the key id (not the signature): an unknown key is refused as AWS refuses it.
    const secret = "wrong-secret-0123456789abcdef";
    await useBucket({ BACKUP_S3_ACCESS_KEY_ID: "AKIAUNKNOWN0123", BACKUP_S3_SECRET_ACCESS_KEY: secret });
    const refused = (await takeBackup().catch((error: unknown) => error)) as Error;
    expect(refused.message).toMatch(
      / failed: InvalidAccessKeyId: The AWS Access Key Id you provided does not exist in our records\. \(HTTP 403\); the archive is kept at /,
    );
    expect(refused.message).not.toContain(secret);
    const [row] = await directDb()`select error from ops.backups order by id desc limit 1`;
    expect(row?.error).toContain("InvalidAccessKeyId");
  });

  it("removes expired copies from the bucket too, never the newest three successes, nothing outside its prefix", async () => {
    await directDb()`delete from ops.backups`;
    const old: { id: string; key: string }[] = [];
    for (let i = 0; i < 4; i++) {
      const key = `backups/gap-old-${i}.dump.age`;
      await store.write(BUCKET, key, `archive ${i}`);
      await store.write(BUCKET, manifestPathOf(key), "{}");
      const [row] = await directDb()`
        insert into ops.backups (finished_at, status, location, size_bytes, sha256)
        values (now() - make_interval(days => ${30 + i}), 'succeeded', ${`s3://${BUCKET}/${key}`}, 9, ${"0".repeat(64)})
        returning id::text as id`;
      await directDb()`insert into ops.backup_copies (backup_id, location, status, size_bytes, sha256, verified_at)
        values (${row?.id}, ${`s3://${BUCKET}/${key}`}, 'verified', 9, ${"0".repeat(64)}, now())`;
      old.push({ id: row?.id, key });
    }
    await store.write(BUCKET, "elsewhere/gap-foreign.dump", "not ours");
    await directDb()`insert into ops.backups (finished_at, status, location, size_bytes, sha256)
      values (now() - interval '60 days', 'succeeded', ${`s3://${BUCKET}/elsewhere/gap-foreign.dump`}, 8, ${"1".repeat(64)})`;
    const result = await takeBackup();
    expect(result.pruned).toBe(2);
    const keys = await store.keys(BUCKET);
    expect(keys).toContain("elsewhere/gap-foreign.dump");
    expect(old.map((o) => keys.includes(o.key))).toEqual([true, true, false, false]);
    expect(old.map((o) => keys.includes(manifestPathOf(o.key)))).toEqual([true, true, false, false]);
    const copies =
      await directDb()`select backup_id::text as id, status from ops.backup_copies where backup_id in ${directDb()(old.map((o) => o.id))} order by backup_id`;
    expect(copies.map((c) => c.status)).toEqual(["verified", "verified", "deleted", "deleted"]);
  });

  it("drills from the bucket, download included in the measured recovery", async () => {
    const backup = await takeBackup();
    const drill = await drillJob();
    expect(drill.source).toMatch(new RegExp(`^s3://${BUCKET}/backups/gap-\\d{8}T\\d{6}Z-${backup.id}\\.dump\\.zst\\.age$`));
    expect(drill).toMatchObject({ backupId: backup.id, rows: backup.rows, kept: false });
    const [row] = await directDb()`select status, source, backup_id::text as backup from ops.dr_drills where id = ${drill.id}`;
    expect(row).toEqual({ status: "succeeded", source: drill.source, backup: backup.id });
  });
});
