/**
 * Recovery as an attacker and a disaster leave it, against a real PostgreSQL and a real
 * S3-compatible server: `latest` never quietly older (the newest archive deleted, its manifest
 * cut short or re-signed by another key, both gone while ops.backups remembers), an object
 * larger than its manifest refused unread, keys rotated, nothing committed before the archive
 * proved its checksum, and the record of a restored database telling the truth.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { execFileSync } from "node:child_process";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from "vitest";
import { takeBackup, type BackupResult } from "../../functions/backup.js";
import { drillJob } from "../../functions/dr-drill.js";
import { restoreChosenBackup } from "../../functions/restore.js";
import { BackupIntegrityError, BackupToolError, BackupUntrustedError, DrillError, RestoreRefusedError } from "../../lib/backups/errors.js";
import { signedManifestText, signingKeyId, type ManifestBody } from "../../lib/backups/manifest.js";
import { manifestPathOf } from "../../lib/backups/names.js";
import { libpqConnection, pgTool, runPgTool } from "../../lib/backups/pg-tools.js";
import { directDb } from "../../lib/db/pool.js";
import { quietConsole } from "../harness/console.js";
import { useConfig } from "../harness/config.js";
import { seededDemo } from "../harness/demo.js";
import { TEST_DATABASE_URL, TEST_SIGNING_KEY } from "../harness/file-database.js";
import { withConnection } from "../harness/postgres-admin.js";
import { throwawayDatabases } from "../harness/throwaway-databases.js";
import { startTestBucketStore, type TestBucketStore } from "../harness/s3.js";
import { runScript } from "../harness/scripts.js";
import { commandAvailable } from "../harness/services.js";

const BUCKET = "gap-recovery";
const OLD_KEY = "the-signing-key-before-rotation-0123456789";
const ATTACKER_KEY = "an-attackers-own-signing-key-0123456789ab";
const withPgTools = commandAvailable("pg_dump") && commandAvailable("pg_restore");
const databases = throwawayDatabases(inject("serverUrl"));
let store: TestBucketStore;
let backupDir: string;
let settings: Record<string, string>;

const tablesIn = (url: string) =>
  withConnection(url, async (sql) => (await sql`select count(*)::int as n from pg_tables where schemaname in ('public', 'ops')`)[0]?.n);

/** The bucket's keys of a backup: its archive and its manifest. */
function keysOf(backup: BackupResult): { archive: string; manifest: string } {
  const archive = `backups/${path.basename(fileURLToPath(backup.location))}`;
  return { archive, manifest: manifestPathOf(archive) };
}

/** A fresh machine's restore: the bucket, the keys, no BACKUP_DIR of the worker's; DATABASE_URL unless given. */
function freshMachine(extra: Record<string, string> = {}): Record<string, string> {
  return { ...settings, BACKUP_DIR: path.join(backupDir, "fresh"), BACKUP_SIGNING_KEY: TEST_SIGNING_KEY, DATABASE_URL: "", ...extra };
}

beforeAll(async () => {
  store = await startTestBucketStore();
  await store.createBucket(BUCKET);
  backupDir = await mkdtemp(path.join(tmpdir(), "gap-recovery-"));
  settings = store.settings(BUCKET);
  await seededDemo();
});
afterAll(async () => {
  await store.close();
  await databases.dropAll();
  await rm(backupDir, { recursive: true, force: true });
});
beforeEach(async () => {
  store.restore();
  await useConfig({ BACKUP_DIR: backupDir, PG_BIN_DIR: "", BACKUP_PREVIOUS_SIGNING_KEYS: "", ...settings });
  return quietConsole("error", "log");
});

describe.skipIf(!withPgTools)("latest, when the newest backup in the bucket cannot be restored", () => {
  it("refuses when the newest archive is gone, naming it and the older one to ask for by id; the drill fails too", async () => {
    const older = await takeBackup();
    const newest = await takeBackup();
    await store.remove(BUCKET, keysOf(newest).archive);
    const refused = await runScript("restore", ["latest", "--target", await databases.empty()], freshMachine());
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(
      new RegExp(
        `^error: the newest backup in s3://${BUCKET}/backups/, gap-\\d{8}T\\d{6}Z-${newest.id} \\(started \\S+Z, \\d+ min old\\), cannot be restored: ` +
          `its archive s3://${BUCKET}/${keysOf(newest).archive.replace(/\./g, "\\.")} is missing\\. ` +
          `The newest restorable one before it is backup ${older.id} \\(taken \\S+Z, \\d+ min old\\): name it with --backup ${older.id} to restore it\\n$`,
      ),
    );
    await expect(drillJob()).rejects.toThrow(BackupIntegrityError);
    const named = await runScript("restore", ["--backup", older.id, "--target", await databases.empty()], freshMachine());
    expect(named.code).toBe(0);
    expect(named.stdout).toMatch(new RegExp(`^restored backup ${older.id} \\(taken \\S+Z, \\d+ min old\\)`, "m"));
  });

  it("refuses when the newest manifest is cut short, or re-signed by a key that is not ours", async () => {
    const newest = await takeBackup();
    const manifest = (await store.read(BUCKET, keysOf(newest).manifest)).toString();
    await store.write(BUCKET, keysOf(newest).manifest, manifest.slice(0, 200));
    const target = await databases.empty();
    await expect(restoreChosenBackup({ latest: true }, target)).rejects.toThrow(
      /cannot be restored: s3:\/\/\S+\.json is not a backup manifest: not JSON \(cut short, or not a manifest\)\./,
    );
    const { signature: _, ...body } = JSON.parse(manifest) as ManifestBody & { signature: unknown };
    await store.write(BUCKET, keysOf(newest).manifest, signedManifestText({ ...body, tables: { ...body.tables, "public.agents": 0 } }, ATTACKER_KEY));
    await expect(restoreChosenBackup({ latest: true }, target)).rejects.toThrow(BackupUntrustedError);
    await expect(restoreChosenBackup({ latest: true }, target)).rejects.toThrow(
      new RegExp(`cannot be restored: its manifest is signed by key ${signingKeyId(ATTACKER_KEY)}, which is not BACKUP_SIGNING_KEY`),
    );
    await store.write(BUCKET, keysOf(newest).manifest, JSON.stringify({ ...JSON.parse(manifest), tables: { ...body.tables, "public.agents": 0 } }));
    await expect(restoreChosenBackup({ latest: true }, target)).rejects.toThrow(
      /its manifest does not match its signature: it was changed after it was signed/,
    );
    expect(await tablesIn(target)).toBe(0);
    await expect(drillJob()).rejects.toThrow(/cannot be restored/);
  });

  it("refuses when the newest backup is gone from the bucket entirely but ops.backups remembers it", async () => {
    const older = await takeBackup();
    const newest = await takeBackup();
    await store.remove(BUCKET, keysOf(newest).archive);
    await store.remove(BUCKET, keysOf(newest).manifest);
    await expect(drillJob()).rejects.toThrow(
      new RegExp(
        `^backup ${newest.id}, the newest success ops\\.backups records \\(finished \\S+Z, \\d+ min old\\), is not in s3://${BUCKET}/backups/: its manifest and archive are gone\\. The newest restorable one before it is backup ${older.id}`,
      ),
    );
    const withRecord = await runScript("restore", ["latest", "--target", await databases.empty()], freshMachine({ DATABASE_URL: TEST_DATABASE_URL }));
    expect(withRecord).toMatchObject({ code: 1, stderr: expect.stringContaining(`backup ${newest.id}, the newest success ops.backups records`) });
    // Without the record (the database is the one lost), the bucket alone cannot tell: the restore says so, and the backup's age.
    const alone = await runScript("restore", ["latest", "--target", await databases.empty()], freshMachine());
    expect(alone.code).toBe(0);
    expect(alone.stdout).toContain("ops.backups not read (DATABASE_URL is not set): judged by the catalog alone");
    expect(alone.stdout).toMatch(new RegExp(`^restored backup ${older.id} \\(taken \\S+Z, \\d+ min old\\)`, "m"));
  });

  it("refuses an object larger than its manifest says on its listed size, reading none of it", async () => {
    const newest = await takeBackup();
    const archive = await store.read(BUCKET, keysOf(newest).archive);
    await store.write(BUCKET, keysOf(newest).archive, Buffer.concat([archive, Buffer.alloc(20 * 1024 * 1024, 7)]));
    // A fresh machine: no copy of its own in BACKUP_DIR to take instead.
    await useConfig({ ...settings, BACKUP_DIR: path.join(backupDir, "fresh"), PG_BIN_DIR: "" });
    const before = store.sentBytes();
    await expect(restoreChosenBackup({ id: newest.id }, await databases.empty())).rejects.toThrow(BackupIntegrityError);
    await expect(restoreChosenBackup({ location: `s3://${BUCKET}/${keysOf(newest).archive}` }, await databases.empty())).rejects.toThrow(
      `s3://${BUCKET}/${keysOf(newest).archive} is ${archive.length + 20 * 1024 * 1024} bytes where its manifest says ${archive.length}: it is not the archive that was written, and was not read`,
    );
    // Listings and manifests only: not a megabyte of the 20 MB object.
    expect(store.sentBytes() - before).toBeLessThan(1024 * 1024);
  });
});

describe.skipIf(!withPgTools)("keys", () => {
  it("restores a backup signed before BACKUP_SIGNING_KEY was rotated, with the old key in BACKUP_PREVIOUS_SIGNING_KEYS only", async () => {
    await useConfig({ BACKUP_DIR: backupDir, PG_BIN_DIR: "", BACKUP_SIGNING_KEY: OLD_KEY, ...settings });
    const signedBefore = await takeBackup();
    await useConfig({ BACKUP_DIR: backupDir, PG_BIN_DIR: "", BACKUP_SIGNING_KEY: TEST_SIGNING_KEY, BACKUP_PREVIOUS_SIGNING_KEYS: "", ...settings });
    await expect(restoreChosenBackup({ id: signedBefore.id }, await databases.empty())).rejects.toThrow(
      `its manifest is signed by key ${signingKeyId(OLD_KEY)}, which is not BACKUP_SIGNING_KEY (key ${signingKeyId(TEST_SIGNING_KEY)}) nor one of BACKUP_PREVIOUS_SIGNING_KEYS: set the key whose id is ${signingKeyId(OLD_KEY)}`,
    );
    const rotated = await runScript(
      "restore",
      ["--backup", signedBefore.id, "--target", await databases.empty()],
      freshMachine({ BACKUP_PREVIOUS_SIGNING_KEYS: `${ATTACKER_KEY}, ${OLD_KEY}` }),
    );
    expect(rotated.code).toBe(0);
    expect(rotated.stdout).not.toContain("warning");
    // New backups are signed with the current key only.
    const after = await takeBackup();
    const manifest = JSON.parse((await store.read(BUCKET, keysOf(after).manifest)).toString()) as { signature: { keyId: string } };
    expect(manifest.signature.keyId).toBe(signingKeyId(TEST_SIGNING_KEY));
  });
});

describe.skipIf(!withPgTools)("a restore", () => {
  it("commits nothing unless every byte matched: an archive whose checksum fails only at its end leaves the target empty", async () => {
    const backup = await takeBackup();
    const { signature: _, ...body } = JSON.parse((await store.read(BUCKET, keysOf(backup).manifest)).toString()) as ManifestBody & { signature: unknown };
    // Signed by us and of the right size, so every check before the restore passes; only the bytes differ.
    await store.write(BUCKET, keysOf(backup).manifest, signedManifestText({ ...body, sha256: "0".repeat(64) }, TEST_SIGNING_KEY));
    const target = await databases.empty();
    await expect(restoreChosenBackup({ location: `s3://${BUCKET}/${keysOf(backup).manifest}` }, target)).rejects.toThrow(
      new RegExp(`^s3://${BUCKET}/\\S+ does not match its manifest \\(\\d+ bytes, sha256 ${backup.sha256}; the manifest says \\d+ bytes, sha256 0{64}\\)`),
    );
    expect(await tablesIn(target)).toBe(0);
    expect(await withConnection(target, (sql) => sql`select extname from pg_extension where extname <> 'plpgsql'`)).toEqual([]);
  });

  it("refuses a target with a view or a sequence in the restored schemas before touching it", async () => {
    const backup = await takeBackup();
    const withView = await databases.empty();
    await withConnection(withView, (sql) => sql`create view public.leftover as select 1 as one`);
    await expect(restoreChosenBackup({ id: backup.id }, withView)).rejects.toThrow(RestoreRefusedError);
    await expect(restoreChosenBackup({ id: backup.id }, withView)).rejects.toThrow(
      "the target database already has objects in the restored schemas (view public.leftover)",
    );
    const withSequence = await databases.empty();
    await withConnection(withSequence, (sql) => sql`create sequence public.counter`);
    await expect(restoreChosenBackup({ id: backup.id }, withSequence)).rejects.toThrow("(sequence public.counter)");
  });

  it("analyzes what it restored: the planner has statistics at once", async () => {
    const backup = await takeBackup();
    const target = await databases.empty();
    const restored = await restoreChosenBackup({ id: backup.id }, target);
    expect(restored.analyzeSeconds).toBeGreaterThan(0);
    const stats = await withConnection(
      target,
      (sql) => sql`
      select count(*)::int as columns from pg_stats where schemaname = 'public' and tablename = 'conversation_messages'`,
    );
    expect(stats[0]?.columns).toBeGreaterThan(3);
  });

  it("says PostgreSQL's reason when pg_restore fails, not the tail of the command it refused", async () => {
    const backup = await takeBackup();
    const target = await databases.empty();
    await restoreChosenBackup({ id: backup.id }, target);
    // The restore's own checks would refuse a second run; pg_restore itself is made to collide here.
    const plain = execFileSync("zstd", ["--decompress", "--stdout", fileURLToPath(backup.location)], { maxBuffer: 256 * 1024 * 1024 });
    const tool = pgTool("pg_restore", 15);
    const connection = libpqConnection(target, "gap-test");
    const { Readable } = await import("node:stream");
    const failure = await runPgTool(tool, ["--exit-on-error", "--no-owner", ...connection.args], connection.env, { stdin: Readable.from([plain]) }).catch(
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(BackupToolError);
    expect((failure as Error).message).toMatch(
      /^pg_restore failed: pg_restore: error: could not execute query: ERROR: {2}\S+ "\S+" already exists \/ Command was: /,
    );
  });
});

describe.skipIf(!withPgTools)("the record of a restored database", () => {
  it("says the backup succeeded, runs in flight were interrupted, and copies on a disk this machine cannot see are unconfirmed", async () => {
    const [lostCopy] = await directDb()<{ id: string }[]>`
      insert into ops.backups (status, finished_at, location, size_bytes, sha256)
      values ('succeeded', now() - interval '1 day', 'file:///mnt/lost-worker/gap-20261205T030000Z-1.dump.zst', 9, ${"a".repeat(64)})
      returning id::text as id`;
    await directDb()`insert into ops.backup_copies (backup_id, location, status, size_bytes, sha256, verified_at)
      values (${lostCopy?.id ?? ""}, 'file:///mnt/lost-worker/gap-20261205T030000Z-1.dump.zst', 'verified', 9, ${"a".repeat(64)}, now())`;
    const [drill] = await directDb()<{ id: string }[]>`insert into ops.dr_drills (status) values ('running') returning id::text as id`;
    const drillId = drill?.id ?? "";
    const backup = await takeBackup();
    const target = await databases.empty();
    const restored = await restoreChosenBackup({ latest: true }, target);
    expect(restored.record).toEqual({ unconfirmedCopies: 1, copiesMarked: true });
    const record = await withConnection(target, async (sql) => ({
      backup: await sql`select status, finished_at as "finishedAt", location, sha256 from ops.backups where id = ${backup.id}`,
      drill: await sql`select status, error from ops.dr_drills where id = ${drillId}`,
      copies: await sql`select location, status, error from ops.backup_copies order by location`,
    }));
    expect(record.backup).toEqual([{ status: "succeeded", finishedAt: new Date(restored.takenAt), location: restored.archiveLocation, sha256: backup.sha256 }]);
    expect(record.drill).toEqual([
      {
        status: "failed",
        error: expect.stringMatching(new RegExp(`^interrupted: the database was restored on \\S+Z from backup ${backup.id} \\(taken \\S+Z\\)$`)),
      },
    ]);
    const lost = record.copies.find((copy) => copy.location.startsWith("file:///mnt/lost-worker/"));
    expect(lost).toMatchObject({
      status: "unconfirmed",
      error: expect.stringMatching(/^not found on the machine that restored it; the database was restored on /),
    });
    // Copies this machine has at their size stay verified; the copy restored from is verified.
    const here = record.copies.filter((copy) => copy.location.startsWith(pathToFileURL(backupDir).toString()));
    expect(here.length).toBeGreaterThan(0);
    expect(here.every((copy) => copy.status === "verified")).toBe(true);
    expect(record.copies.find((copy) => copy.location === restored.archiveLocation)).toMatchObject({ status: "verified" });
    await directDb()`update ops.dr_drills set status = 'failed', finished_at = now(), error = 'test' where id = ${drillId}`;
  });
});

describe.skipIf(!withPgTools)("npm run db:backups -- --verify", () => {
  it("exits 1, naming the copy, when an archive in the bucket is damaged", async () => {
    // A prefix of its own: earlier tests leave damaged backups under backups/.
    const own = store.settings(BUCKET, "verified/");
    await useConfig({ BACKUP_DIR: backupDir, PG_BIN_DIR: "", ...own });
    const backup = await takeBackup();
    const env = { ...freshMachine(), ...own };
    const key = `verified/${path.basename(fileURLToPath(backup.location))}`;
    expect((await runScript("backups", ["--verify"], env)).code).toBe(0);
    const bytes = await store.read(BUCKET, key);
    bytes.writeUInt8(bytes.readUInt8(100) ^ 0xff, 100);
    await store.write(BUCKET, key, bytes);
    const checked = await runScript("backups", ["--verify"], env);
    expect(checked.code).toBe(1);
    expect(checked.stderr).toBe(
      `error: 1 of 1 copies failed verification: s3://${BUCKET}/${key} (s3://${BUCKET}/${key} does not match its manifest's SHA-256)\n`,
    );
    expect((await runScript("backups", [], env)).code).toBe(0);
  });
});

describe.skipIf(!withPgTools)("the drill", () => {
  it("fails when the backup it would restore is not the newest success ops.backups records", async () => {
    const older = await takeBackup();
    const newest = await takeBackup();
    // A success recorded later than anything in the bucket (its copy lost, or never made).
    await directDb()`insert into ops.backups (status, started_at, finished_at, location, size_bytes, sha256)
      values ('succeeded', now() + interval '1 minute', now() + interval '1 minute', 'file:///nowhere/gap.dump.zst', 1, ${"b".repeat(64)})`;
    await expect(drillJob()).rejects.toThrow(/the newest success ops\.backups records \(finished \S+Z, \d+ min old\), is not in s3:\/\//);
    await directDb()`delete from ops.backups where location = 'file:///nowhere/gap.dump.zst'`;
    // The bucket's newest is a run ops.backups says failed: not what the record calls the recovery point.
    await directDb()`update ops.backups set status = 'failed', error = 'test' where id = ${newest.id}`;
    await expect(drillJob()).rejects.toThrow(DrillError);
    await expect(drillJob()).rejects.toThrow(`the newest backup in the catalog is ${newest.id}, but the newest success ops.backups records is ${older.id}`);
    await directDb()`update ops.backups set status = 'succeeded', error = null where id = ${newest.id}`;
    expect(await drillJob()).toMatchObject({ backupId: newest.id });
  });
});
