/** The disaster-recovery drill against a real PostgreSQL with the real pg_dump and pg_restore. */
import { copyFile, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { manifestPathOf } from "../../lib/backups/names.js";
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it, vi } from "vitest";
import { recoveryTimeCheck, takeBackup } from "../../functions/backup.js";
import { disasterRecoveryDrill, drillCron, drillJob, drillSlot } from "../../functions/dr-drill.js";
import { BackupIntegrityError, BackupNotFoundError } from "../../lib/backups/errors.js";
import { probed } from "../../lib/db/inspect/probe.js";
import { directDb } from "../../lib/db/pool.js";
import { databaseFigures } from "../../lib/db/inspect/figures.js";
import { useConfig } from "../harness/config.js";
import { seededDemo } from "../harness/demo.js";
import { TEST_DATABASE_URL, TEST_SIGNING_KEY } from "../harness/file-database.js";
import { adminConnection, dropDatabase } from "../harness/postgres-admin.js";
import { runScript } from "../harness/scripts.js";
import { commandAvailable } from "../harness/services.js";
import { quietConsole } from "../harness/console.js";

const withPgTools = commandAvailable("pg_dump") && commandAvailable("pg_restore");
const admin = adminConnection(inject("serverUrl"));
let backupDir: string;

async function databaseExists(name: string): Promise<boolean> {
  const rows = await admin`select 1 from pg_database where datname = ${name}`;
  return rows.length === 1;
}

beforeAll(async () => {
  backupDir = await mkdtemp(path.join(tmpdir(), "gap-drill-"));
  await seededDemo();
  await useConfig({ BACKUP_DIR: backupDir });
});
afterAll(async () => {
  await admin.end();
  await rm(backupDir, { recursive: true, force: true });
});
beforeEach(() => quietConsole("error", "log"));

describe.skipIf(!withPgTools)("the disaster-recovery drill", () => {
  it("says there is nothing to drill with before the first backup", async () => {
    await expect(disasterRecoveryDrill()).rejects.toThrow(BackupNotFoundError);
    await expect(disasterRecoveryDrill()).rejects.toThrow(`no backup to restore in BACKUP_DIR (${backupDir}) (it holds none)`);
  });

  it("restores the newest kept backup into a scratch database, reads it as the application does, records the recovery time, and drops it", async () => {
    const backup = await takeBackup();
    const result = await disasterRecoveryDrill();
    expect(result).toMatchObject({ backupId: backup.id, tables: backup.tables, rows: backup.rows, kept: false });
    expect(result.applicationCheck).toMatch(/^read agent [0-9a-f-]{36} with 3 workflow\(s\)$/);
    expect(result.recoverySeconds).toBeGreaterThan(0);
    expect(result.dataAgeSeconds).toBeLessThan(60);
    // After the recovery is timed, the advice is measured on the copy before it is dropped.
    expect(result.advice).toMatchObject({ measured: true, seconds: expect.any(Number) });
    expect(await databaseExists(result.scratchDatabase)).toBe(false);
    const [row] = await directDb()`
      select status, backup_id::text as backup, recovery_seconds as seconds, tables, row_count::float8 as rows,
        restored_bytes::float8 as "restoredBytes", analyze_seconds as "analyzeSeconds"
      from ops.dr_drills where id = ${result.id}`;
    expect(row).toEqual({
      status: "succeeded",
      backup: backup.id,
      seconds: result.recoverySeconds,
      tables: result.tables,
      rows: result.rows,
      restoredBytes: result.restoredBytes,
      analyzeSeconds: result.analyzeSeconds,
    });
    // The scratch database holds the restored tables: more than the empty database's few MB of catalogs.
    expect(result.restoredBytes).toBeGreaterThan(8 * 1024 * 1024);
    expect(result.analyzeSeconds).toBeGreaterThan(0);
    const figures = await probed(directDb(), (tx) => databaseFigures(tx));
    expect(figures.lastDrillRecoverySeconds).toBe(result.recoverySeconds);
    // The throughput this drill measured, applied to the database's size now.
    const [size] = await directDb()<{ bytes: number }[]>`select pg_database_size(current_database())::float8 as bytes`;
    expect(figures.drillRecoveryBytesPerSecond).toBeCloseTo(result.restoredBytes / result.recoverySeconds, 3);
    expect((figures.projectedRecoverySeconds ?? 0) / (((size?.bytes ?? 0) * result.recoverySeconds) / result.restoredBytes)).toBeCloseTo(1, 2);
    expect(Math.abs((figures.lastDrillAt ?? 0) - Date.now() / 1000)).toBeLessThan(60);
  });

  it("keeps the scratch database when asked", async () => {
    const result = await disasterRecoveryDrill({ keep: true });
    expect(await databaseExists(result.scratchDatabase)).toBe(true);
    await dropDatabase(admin, result.scratchDatabase);
  });

  it("records a failed drill on a damaged archive, drops the scratch database and alerts", async () => {
    const { location } = await takeBackup();
    const damagedDir = await mkdtemp(path.join(tmpdir(), "gap-drill-damaged-"));
    const archive = path.join(damagedDir, path.basename(fileURLToPath(location)));
    await copyFile(fileURLToPath(location), archive);
    await copyFile(manifestPathOf(fileURLToPath(location)), manifestPathOf(archive));
    await writeFile(archive, Buffer.concat([await readFile(archive), Buffer.from("tail")]));
    await expect(drillJob({ file: archive })).rejects.toThrow(BackupIntegrityError);
    const [row] = await directDb()`select status, error, scratch_database as scratch from ops.dr_drills order by id desc limit 1`;
    expect(row).toMatchObject({
      status: "failed",
      error: expect.stringMatching(/ is \d+ bytes where its manifest says \d+: it is not the archive that was written, and was not read$/),
    });
    // This drill's own scratch database: other files' drills run on the same server meanwhile.
    expect(row?.scratch).toMatch(/^gap_drill_\d+_\d+$/);
    expect(await databaseExists(row?.scratch)).toBe(false);
    const logged = vi.mocked(console.error).mock.calls.map((c) => String(c[0]));
    expect(logged.find((line) => line.includes('"message":"alert firing"'))).toContain('"key":"job:dr-drill"');
    await rm(damagedDir, { recursive: true, force: true });
  });

  it("runs from the command line: one line of figures, exit 0; a bad option, exit 2", async () => {
    const run = (args: string[]) => runScript("drill", args, { DATABASE_URL: TEST_DATABASE_URL, BACKUP_DIR: backupDir, BACKUP_SIGNING_KEY: TEST_SIGNING_KEY });
    const drilled = await run([]);
    expect(drilled.code).toBe(0);
    const [plan, figures] = drilled.stdout.split("\n");
    expect(plan).toMatch(
      /^drilling backup \d+ \(taken \S+Z, \d+ min old\) from \S+\.dump\.zst; the server needs about [\d.]+ [kMG]?B free \(the database plus max_wal_size\)$/,
    );
    expect(figures).toMatch(
      /^drill \d+: recovered \d+ tables, \d+ rows \([\d.]+ MB\) in [\d.]+ s \(ANALYZE [\d.]+ s; data [\d.]+ h old, backup \d+\); row counts match; read agent /,
    );
    expect(drilled.stdout).toMatch(/scratch database gap_drill_\d+_\d+ dropped/);
    // The demo database has no slow statement and no index large enough to count as unused.
    expect(drilled.stdout).toMatch(/\n {2}advice {2}nothing to measure on the copy \([\d.]+ s\): hypopg suggested no index and none is unused or redundant\n/);
    // An index nobody reads, 2 MB: the drill's copy measures its drop.
    await directDb()`create table drill_unused (v int)`;
    await directDb()`insert into drill_unused select generate_series(1, 100000)`;
    await directDb()`create index drill_unused_v on drill_unused (v)`;
    try {
      await takeBackup();
      const measured = await run([]);
      expect(measured.stdout).toMatch(
        /\n {2}advice {2}measured on the copy in [\d.]+ s: 1 suggested, 0 not suggested, 0 withheld, 0 not measured \(npm run db:advise shows them\)\n/,
      );
    } finally {
      await directDb()`drop table drill_unused`;
    }
    expect(await run(["--server", "mysql://nope"])).toMatchObject({ code: 2, stderr: expect.stringContaining("--server must be a postgres:// URL") });
  });

  it("runs one drill per day from the cron however often it is delivered; a failed one frees the day for a retry", async () => {
    const day = new Date("2031-01-05T04:00:00Z");
    const first = await drillCron(day);
    expect(first).toMatchObject({ recoverySeconds: expect.any(Number) });
    const [recorded] = await directDb()<{ id: string }[]>`select id::text as id from ops.dr_drills where slot = ${drillSlot(day)}`;
    expect(await drillCron(day)).toEqual({ status: "duplicate", slot: "dr-drill-2031-01-05", id: recorded?.id });
    await directDb()`update ops.dr_drills set status = 'failed', error = 'test' where id = ${recorded?.id ?? ""}`;
    expect(await drillCron(day)).toMatchObject({ recoverySeconds: expect.any(Number) });
  });
});

describe.skipIf(!withPgTools)("the recovery time projected for today's size", () => {
  it("fires backup:rto while it passes BACKUP_RTO_MINUTES, and resolves when it is back within", async () => {
    const hook = await import("../harness/webhook.js").then((m) => m.webhookReceiver());
    try {
      await useConfig({ BACKUP_DIR: backupDir, ALERT_WEBHOOK_URL: hook.url, BACKUP_RTO_MINUTES: "1" });
      await takeBackup();
      const drill = await drillJob();
      // A slow restore: the database at this throughput takes 3 minutes, past the 1-minute objective.
      const [size] = await directDb()<{ bytes: number }[]>`select pg_database_size(current_database())::float8 as bytes`;
      await directDb()`update ops.dr_drills set recovery_seconds = ${(180 * drill.restoredBytes) / (size?.bytes ?? 1)} where id = ${drill.id}`;
      // Within half a minute: the database may grow a little between the two size readings (autovacuum's map forks).
      expect(await recoveryTimeCheck()).toEqual({ status: "over", projectedMinutes: expect.closeTo(3, 0), rtoMinutes: 1 });
      const fired = hook.received
        .map((r) => (r.body as { alert: { key: string; status: string; summary: string } }).alert)
        .filter((a) => a.key === "backup:rto");
      expect(fired).toEqual([
        {
          ...fired[0],
          status: "firing",
          summary: expect.stringMatching(
            /^at its size today \([\d.]+ MB\) the database would take about 3(\.\d)? min to recover, past the recovery time objective of 1 min \(the drill of \S+ \S+ UTC restored [\d.]+ MB in \d+ s\)$/,
          ),
        },
      ]);
      await directDb()`update ops.dr_drills set recovery_seconds = ${drill.recoverySeconds} where id = ${drill.id}`;
      expect(await recoveryTimeCheck()).toMatchObject({ status: "ok", rtoMinutes: 1 });
      expect(
        hook.received
          .map((r) => (r.body as { alert: { key: string; status: string } }).alert)
          .filter((a) => a.key === "backup:rto")
          .map((a) => a.status),
      ).toEqual(["firing", "resolved"]);
    } finally {
      await hook.close();
      await useConfig({ BACKUP_DIR: backupDir });
    }
  });
});
