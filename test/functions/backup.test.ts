/**
 * Backups against a real PostgreSQL with the real pg_dump and pg_restore: archives that
 * restore whole, checksums that catch damage, retention, and the alerts of a failing job and
 * of a recovery point past its objective.
 */
import { copyFile, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { manifestPathOf } from "../../lib/backups/names.js";
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from "vitest";
import { KEEP_NEWEST, recoveryPointCheck, takeBackup } from "../../functions/backup.js";
import { restoreChosenBackup, verifyChosenBackup } from "../../functions/restore.js";
import { BackupIntegrityError, RestoreRefusedError } from "../../lib/backups/errors.js";
import { directDb } from "../../lib/db/pool.js";
import { useConfig } from "../harness/config.js";
import { seededDemo } from "../harness/demo.js";
import { TEST_DATABASE_URL, TEST_SIGNING_KEY } from "../harness/file-database.js";
import { serve, type RunningServer } from "../harness/http.js";
import { adminConnection } from "../harness/postgres-admin.js";
import { throwawayDatabases } from "../harness/throwaway-databases.js";
import { runScript } from "../harness/scripts.js";
import { commandAvailable } from "../harness/services.js";
import { webhookReceiver, type WebhookReceiver } from "../harness/webhook.js";
import { quietConsole } from "../harness/console.js";

const SECRET = "cron-secret-0123456789abcdef";
const withPgTools = commandAvailable("pg_dump") && commandAvailable("pg_restore");
const databases = throwawayDatabases(inject("serverUrl"));
let backupDir: string;
let hook: WebhookReceiver;
let server: RunningServer;

async function cron(pathname: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${server.baseUrl}${pathname}`, { headers: { authorization: `Bearer ${SECRET}` } });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

const sentAlerts = (key: string) =>
  hook.received.map((r) => (r.body as { alert: { key: string; status: string; summary: string } }).alert).filter((a) => a.key === key);

beforeAll(async () => {
  backupDir = await mkdtemp(path.join(tmpdir(), "gap-backups-"));
  hook = await webhookReceiver();
  await seededDemo();
  await useConfig({ BACKUP_DIR: backupDir, CRON_SECRET: SECRET, ALERT_WEBHOOK_URL: hook.url, PG_BIN_DIR: "" });
  server = await serve();
});
afterAll(async () => {
  await server.close();
  await hook.close();
  await databases.dropAll();
  await rm(backupDir, { recursive: true, force: true });
});
beforeEach(() => quietConsole("error", "log"));

describe.skipIf(!withPgTools)("backups", () => {
  it("writes an archive and a manifest whose checksum matches, and records the run in ops.backups", async () => {
    const result = await takeBackup();
    const archive = fileURLToPath(result.location);
    expect(path.dirname(archive)).toBe(backupDir);
    expect((await stat(archive)).size).toBe(result.sizeBytes);
    const { manifest } = await verifyChosenBackup({ location: archive });
    expect(manifest).toMatchObject({ sha256: result.sha256, schemas: ["ops", "public", "supabase_migrations"] });
    expect(manifest.tables["public.conversation_messages"]).toBe(240);
    expect(manifest.tables["supabase_migrations.schema_migrations"]).toBeGreaterThan(0);
    const [row] = await directDb()`select status, location, size_bytes::float8 as size, sha256 from ops.backups where id = ${result.id}`;
    expect(row).toEqual({ status: "succeeded", location: result.location, size: result.sizeBytes, sha256: result.sha256 });
  });

  it("restores into an empty database: every table, the same rows, in one transaction", async () => {
    const { location } = await takeBackup();
    const target = await databases.empty();
    const restored = await restoreChosenBackup({ location: fileURLToPath(location) }, target);
    expect(restored.tables).toBeGreaterThanOrEqual(15);
    const digest = `select md5(string_agg(id::text || role || content, ',' order by id)) as digest from conversation_messages`;
    const copy = adminConnection(target);
    const [[original], [copied]] = await Promise.all([directDb().unsafe(digest), copy.unsafe(digest)]);
    await copy.end();
    expect(copied?.digest).toBe(original?.digest);
  });

  it("restores into a database that has the schemas already, empty (a new Supabase project has supabase_migrations)", async () => {
    const { location } = await takeBackup();
    const target = await databases.empty();
    const prepared = adminConnection(target);
    await prepared`create schema supabase_migrations`;
    await prepared`create schema ops`;
    await prepared.end();
    const restored = await restoreChosenBackup({ location: fileURLToPath(location) }, target);
    expect(restored.tables).toBeGreaterThanOrEqual(15);
  });

  it("dumps and counts one snapshot: rows written while it runs are in neither, and the restore matches", async () => {
    await directDb()`create table backup_probe (id bigint generated always as identity primary key, at timestamptz default now())`;
    let writing = true;
    let written = 0;
    const writer = (async () => {
      while (writing) {
        await directDb()`insert into backup_probe default values`;
        written++;
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, 50));
    const before = written;
    const { location } = await takeBackup();
    const during = written - before;
    writing = false;
    await writer;
    const { manifest } = await verifyChosenBackup({ location: fileURLToPath(location) });
    expect(during).toBeGreaterThan(10);
    expect(manifest.tables["public.backup_probe"]).toBeGreaterThanOrEqual(before);
    expect(manifest.tables["public.backup_probe"]).toBeLessThan(written);
    const restored = await restoreChosenBackup({ location: fileURLToPath(location) }, await databases.empty());
    expect(restored.rows).toBe(Object.values(manifest.tables).reduce((sum, n) => sum + n, 0));
  });

  it("refuses a damaged archive and a target that has tables, and restores nothing", async () => {
    const { location } = await takeBackup();
    const damagedDir = await mkdtemp(path.join(tmpdir(), "gap-damaged-"));
    const archive = fileURLToPath(location);
    const copy = path.join(damagedDir, path.basename(archive));
    await copyFile(archive, copy);
    await copyFile(manifestPathOf(archive), manifestPathOf(copy));
    const bytes = await readFile(copy);
    const middle = Math.floor(bytes.length / 2);
    bytes.writeUInt8((bytes.readUInt8(middle) ^ 0xff) & 0xff, middle);
    await writeFile(copy, bytes);
    const target = await databases.empty();
    await expect(restoreChosenBackup({ location: copy }, target)).rejects.toThrow(BackupIntegrityError);
    await expect(restoreChosenBackup({ location: copy }, target)).rejects.toThrow(/does not match its manifest/);
    const probe = adminConnection(target);
    const [tables] = await probe`select count(*)::int as n from pg_tables where schemaname in ('public', 'ops')`;
    await probe.end();
    expect(tables?.n).toBe(0);
    await expect(restoreChosenBackup({ location: archive }, TEST_DATABASE_URL)).rejects.toThrow(RestoreRefusedError);
    await rm(damagedDir, { recursive: true, force: true });
  });

  it(`removes archives past retention, keeping the newest ${KEEP_NEWEST} successes whatever their age`, async () => {
    await directDb()`delete from ops.backups`;
    const old: { id: string; file: string }[] = [];
    for (let i = 0; i < 5; i++) {
      const file = path.join(backupDir, `gap-old-${i}.dump`);
      await writeFile(file, "old");
      await writeFile(manifestPathOf(file), "{}");
      const [row] = await directDb()`
        insert into ops.backups (requested_at, started_at, finished_at, status, location, size_bytes, sha256)
        values (now() - make_interval(days => ${30 + i}), now() - make_interval(days => ${30 + i}), now() - make_interval(days => ${30 + i}),
          'succeeded', ${`file://${file}`}, 3, ${"0".repeat(64)})
        returning id::text as id`;
      old.push({ id: row?.id, file });
    }
    // An archive outside BACKUP_DIR is never deleted, whatever its row says.
    const elsewhere = await mkdtemp(path.join(tmpdir(), "gap-elsewhere-"));
    const foreign = path.join(elsewhere, "precious.dump");
    await writeFile(foreign, "not ours");
    const [foreignRow] = await directDb()`
      insert into ops.backups (requested_at, started_at, finished_at, status, location, size_bytes, sha256)
      values (now() - interval '60 days', now() - interval '60 days', now() - interval '60 days', 'succeeded', ${`file://${foreign}`}, 8, ${"1".repeat(64)})
      returning id::text as id`;
    const result = await takeBackup();
    // The new one and the two youngest old ones are the newest three: the other three go.
    expect(result.pruned).toBe(3);
    expect(await readFile(foreign, "utf8")).toBe("not ours");
    const [kept] = await directDb()`select deleted_at from ops.backups where id = ${foreignRow?.id}`;
    expect(kept?.deleted_at).toBeNull();
    await rm(elsewhere, { recursive: true, force: true });
    const rows = await directDb()`select id::text as id, deleted_at is not null as deleted from ops.backups where id in ${directDb()(old.map((o) => o.id))}`;
    const deleted = new Map(rows.map((r) => [r.id, r.deleted]));
    expect(old.map((o) => deleted.get(o.id))).toEqual([false, false, true, true, true]);
    const present = await Promise.all(
      old.map((o) =>
        stat(o.file).then(
          () => true,
          () => false,
        ),
      ),
    );
    expect(present).toEqual([true, true, false, false, false]);
  });

  it("records a failing run, answers the cron 503 with the reason, alerts once, and resolves with the next success", async () => {
    const emptyBin = await mkdtemp(path.join(tmpdir(), "gap-nobin-"));
    await useConfig({ PG_BIN_DIR: emptyBin });
    const failed = await cron("/api/cron/backup");
    expect(failed.status).toBe(503);
    expect(failed.body).toMatchObject({
      error: { code: "SERVICE_UNAVAILABLE", message: expect.stringContaining(`pg_dump 15 or newer is not in PG_BIN_DIR (${emptyBin})`) },
    });
    expect((await cron("/api/cron/backup")).status).toBe(503);
    const [row] = await directDb()`select status, error from ops.backups order by id desc limit 1`;
    expect(row).toMatchObject({ status: "failed", error: expect.stringContaining("pg_dump 15 or newer") });
    // The alert state lives in the cache store: only the binaries' folder changes (useConfig would reset it).
    const { overrideConfig } = await import("../../lib/config.js");
    overrideConfig({ PG_BIN_DIR: "" });
    const succeeded = await cron("/api/cron/backup");
    expect(succeeded).toMatchObject({ status: 200, body: { sha256: expect.stringMatching(/^[0-9a-f]{64}$/) } });
    expect(sentAlerts("job:backup").map((a) => a.status)).toEqual(["firing", "resolved"]);
    expect(sentAlerts("job:backup")[0]?.summary).toContain("pg_dump 15 or newer");
    await rm(emptyBin, { recursive: true, force: true });
  });

  it("takes one backup per day's slot from the cron however often it is delivered; db:backup takes one whenever asked", async () => {
    await directDb()`update ops.backups set slot = null`;
    const slot = `daily-${new Date().toISOString().slice(0, 10)}`;
    const first = await cron("/api/cron/backup");
    expect(first).toMatchObject({ status: 200, body: { status: "succeeded" } });
    const deliveries = await Promise.all([cron("/api/cron/backup"), cron("/api/cron/backup")]);
    expect(deliveries).toEqual([
      { status: 200, body: { status: "duplicate", slot, id: first.body.id } },
      { status: 200, body: { status: "duplicate", slot, id: first.body.id } },
    ]);
    const before = await directDb()`select count(*)::int as runs from ops.backups`;
    const onDemand = await takeBackup();
    expect(onDemand.id).not.toBe(first.body.id);
    const after = await directDb()`select count(*)::int as runs from ops.backups`;
    expect(after[0]?.runs).toBe((before[0]?.runs ?? 0) + 1);
    expect(await directDb()`select id::text as id from ops.backups where slot = ${slot}`).toEqual([{ id: first.body.id }]);
  });

  it("fires backup:rpo while the newest success is older than the objective, and resolves it after a backup", async () => {
    await directDb()`update ops.backups set finished_at = now() - interval '30 hours' where status = 'succeeded'`;
    expect(await cron("/api/cron/backup-rpo")).toMatchObject({ status: 200, body: { status: "late", ageHours: 30, rpoHours: 24 } });
    expect(await recoveryPointCheck()).toMatchObject({ status: "late" });
    await takeBackup();
    expect(await recoveryPointCheck()).toMatchObject({ status: "ok", ageHours: 0 });
    expect(sentAlerts("backup:rpo").map((a) => [a.status, a.summary])).toEqual([
      ["firing", "the newest successful backup is 30 h old, past the recovery point objective of 24 h"],
      ["resolved", "the newest backup is 0 h old, within the 24 h objective"],
    ]);
  });

  it("counts a new installation late only once it has run longer than the objective without a backup", async () => {
    await directDb()`delete from ops.backups`;
    await directDb()`delete from ops.db_stats_snapshots`;
    expect(await recoveryPointCheck()).toMatchObject({ status: "ok", ageHours: null, newestBackupAt: null });
    await directDb()`
      insert into ops.db_stats_snapshots (slot, taken_at, connections_by_state, database_size_bytes, blocked_sessions, longest_transaction_seconds, xid_age)
      values (now() - interval '25 hours', now() - interval '25 hours', '{}', 1, 0, 0, 1)`;
    expect(await recoveryPointCheck()).toMatchObject({ status: "late", ageHours: 25, newestBackupAt: null });
    expect(sentAlerts("backup:rpo").at(-1)?.summary).toBe("no successful backup in the 25 h since monitoring began, past the recovery point objective of 24 h");
  });
});

describe.skipIf(!withPgTools)("npm run db:restore", () => {
  const restore = (args: string[]) => runScript("restore", args, { DATABASE_URL: "", BACKUP_SIGNING_KEY: TEST_SIGNING_KEY });

  it("verifies, restores with exit 0, and refuses with one line and exit 1 or 2", async () => {
    const { location } = await takeBackup();
    const archive = fileURLToPath(location);
    const verified = await restore([archive, "--verify"]);
    expect(verified).toMatchObject({ code: 0, stdout: expect.stringMatching(/: intact \(backup \d+, taken \S+Z, \d+ min old; sha256 [0-9a-f]{64}, /) });
    const target = await databases.empty();
    const restored = await restore([manifestPathOf(archive), "--target", target]);
    expect(restored.code).toBe(0);
    expect(restored.stdout).toMatch(
      /^restored backup \d+ \(taken \S+Z, \d+ min old\): \d+ tables, \d+ rows from \S+\.dump\.zst into postgres:\/\/[^:]+:\*\*\*@.* in [\d.]+ s \(ANALYZE [\d.]+ s\); row counts match the manifest$/m,
    );
    const again = await restore([archive, "--target", target]);
    expect(again).toMatchObject({ code: 1, stderr: expect.stringMatching(/^error: the target database already has objects in the restored schemas \(/) });
    expect(again.stderr).not.toContain("    at ");
    expect(await restore([archive])).toMatchObject({ code: 2, stderr: expect.stringContaining("--target must be a postgres:// URL") });
    expect(await restore([path.join(backupDir, "missing.json"), "--verify"])).toMatchObject({
      code: 1,
      stderr: expect.stringContaining("error: cannot read the manifest"),
    });
  });
});
