/**
 * Scenario 2 in one command, against a real PostgreSQL, the real pg_dump and pg_restore and a
 * real S3-compatible server: one organization's rows put back from a backup while the others
 * keep writing; a live row never overwritten, another organization never touched, a child whose
 * parent went too put back with it; a dry run that changes nothing; archives we did not sign
 * refused.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { takeBackup, type BackupResult } from "../../functions/backup.js";
import { recoverOrganization } from "../../functions/recover.js";
import { BackupUntrustedError } from "../../lib/backups/errors.js";
import { signedManifestText, type ManifestBody } from "../../lib/backups/manifest.js";
import { manifestPathOf } from "../../lib/backups/names.js";
import { directDb } from "../../lib/db/pool.js";
import { RecoveryRefusedError } from "../../lib/recovery/errors.js";
import { quietConsole } from "../harness/console.js";
import { useConfig } from "../harness/config.js";
import { seededDemo, SMALL_DEMO } from "../harness/demo.js";
import { TEST_DATABASE_URL, TEST_SIGNING_KEY } from "../harness/file-database.js";
import { startTestBucketStore, type TestBucketStore } from "../harness/s3.js";
import { runScript } from "../harness/scripts.js";
import { commandAvailable } from "../harness/services.js";

const BUCKET = "gap-recover";
const withPgTools = commandAvailable("pg_dump") && commandAvailable("pg_restore");
let store: TestBucketStore;
let backupDir: string;
let settings: Record<string, string>;
let damaged: string;
let other: string;

/** Every row of each organization table, as a fingerprint per organization: what recovery must bring back or leave alone. */
async function fingerprint(organizationId: string): Promise<Record<string, string>> {
  const [row] = await directDb()<Record<string, string>[]>`
    select
      (select md5(coalesce(string_agg(m.id::text || m.content || m.created_at::text, ',' order by m.id), ''))
       from conversation_messages m join conversations c on c.id = m.conversation_id where c.organization_id = ${organizationId}) as messages,
      (select md5(coalesce(string_agg(c.id::text || c.status || c.customer_id, ',' order by c.id), '')) from conversations c where c.organization_id = ${organizationId}) as conversations,
      (select md5(coalesce(string_agg(a.id::text || a.name || a.status, ',' order by a.id), '')) from agents a where a.organization_id = ${organizationId}) as agents,
      (select md5(coalesce(string_agg(w.id::text || w.name, ',' order by w.id), '')) from agent_workflows w join agents a on a.id = w.agent_id where a.organization_id = ${organizationId}) as workflows,
      (select md5(coalesce(string_agg(e.id::text || e.event_type, ',' order by e.id), '')) from analytics_events e where e.organization_id = ${organizationId}) as events`;
  return row ?? {};
}

async function messageCount(organizationId: string): Promise<number> {
  const [row] = await directDb()<{ n: number }[]>`
    select count(*)::int as n from conversation_messages m join conversations c on c.id = m.conversation_id where c.organization_id = ${organizationId}`;
  return row?.n ?? -1;
}

beforeAll(async () => {
  store = await startTestBucketStore();
  await store.createBucket(BUCKET);
  backupDir = await mkdtemp(path.join(tmpdir(), "gap-recover-"));
  settings = store.settings(BUCKET);
  await seededDemo({ ...SMALL_DEMO, messages: 900 });
  [damaged, other] = (await directDb()<{ id: string }[]>`select id from organizations order by slug limit 2`).map((row) => row.id) as [string, string];
});
afterAll(async () => {
  await store.close();
  await rm(backupDir, { recursive: true, force: true });
});
beforeEach(async () => {
  await useConfig({ BACKUP_DIR: backupDir, PG_BIN_DIR: "", BACKUP_SIGNING_KEY: TEST_SIGNING_KEY, ...settings });
  return quietConsole("error", "log", "warn");
});

describe.skipIf(!withPgTools)("recovering one organization's rows", () => {
  let backup: BackupResult;
  let before: Record<string, string>;
  let otherBefore: Record<string, string>;
  /** Messages the other organization wrote after the backup. */
  let writtenAfter = 0;

  it("puts back its deleted messages while another organization keeps writing, and leaves the other's new rows alone", async () => {
    before = await fingerprint(damaged);
    backup = await takeBackup();
    const lost = await messageCount(damaged);
    await directDb()`delete from conversation_messages m using conversations c where c.id = m.conversation_id and c.organization_id = ${damaged}`;
    writtenAfter = (
      await directDb()`
        insert into conversation_messages (conversation_id, role, content)
        select c.id, 'user', 'written after the backup' from conversations c where c.organization_id = ${other}`
    ).count;
    expect(writtenAfter).toBeGreaterThan(0);
    otherBefore = await fingerprint(other);
    expect(await messageCount(damaged)).toBe(0);

    const report = await recoverOrganization({ organizationId: damaged, choice: { latest: true } });
    expect(report).toMatchObject({ applied: true, backup: { id: backup.id } });
    expect(report.outcomes.find((o) => o.table === "conversation_messages")).toEqual({
      table: "conversation_messages",
      inBackup: lost,
      alreadyLive: 0,
      inserted: lost,
      conflicting: 0,
    });
    for (const table of ["organizations", "agents", "conversations", "agent_workflows"]) {
      const outcome = report.outcomes.find((o) => o.table === table);
      expect(outcome, table).toMatchObject({ inserted: 0, conflicting: 0 });
      expect(outcome?.alreadyLive, table).toBe(outcome?.inBackup);
    }
    // Parents first: every table after the ones it refers to.
    const order = report.outcomes.map((o) => o.table);
    expect(order.indexOf("users")).toBeLessThan(order.indexOf("organization_members"));
    expect(order.indexOf("conversations")).toBeLessThan(order.indexOf("conversation_messages"));
    expect(await fingerprint(damaged)).toEqual(before);
    expect(await fingerprint(other)).toEqual(otherBefore);
    const [scratch] = await directDb()`select count(*)::int as n from pg_database where datname = ${report.scratchDatabase}`;
    expect(scratch?.n).toBe(0);
  });

  it("keeps a row edited after the backup as it is live, and puts back a child whose parent was deleted too", async () => {
    const [edited, gone] = await directDb()<{ id: string }[]>`select id from conversations where organization_id = ${damaged} order by id limit 2`;
    await directDb()`update conversations set status = 'archived' where id = ${edited?.id ?? ""}`;
    await directDb()`delete from conversation_messages where conversation_id = ${edited?.id ?? ""}`;
    // Deleting the conversation takes its messages with it (on delete cascade).
    await directDb()`delete from conversations where id = ${gone?.id ?? ""}`;
    const report = await recoverOrganization({ organizationId: damaged, choice: { id: backup.id } });
    expect(report.outcomes.find((o) => o.table === "conversations")).toMatchObject({ inserted: 1, conflicting: 0 });
    const [conversation] = await directDb()`select status from conversations where id = ${edited?.id ?? ""}`;
    expect(conversation?.status).toBe("archived");
    const after = await fingerprint(damaged);
    expect(after.messages).toBe(before.messages);
    expect(after.conversations).not.toBe(before.conversations);
    await directDb()`update conversations set status = 'open' where id = ${edited?.id ?? ""}`;
    expect(await fingerprint(damaged)).toEqual(before);
  });

  it("never touches another organization's rows, even ones missing too", async () => {
    const otherMessages = await messageCount(other);
    await directDb()`delete from conversation_messages m using conversations c where c.id = m.conversation_id and c.organization_id = ${other}`;
    await directDb()`delete from conversation_messages m using conversations c where c.id = m.conversation_id and c.organization_id = ${damaged}`;
    await recoverOrganization({ organizationId: damaged, choice: { id: backup.id } });
    expect(await fingerprint(damaged)).toEqual(before);
    expect(await messageCount(other)).toBe(0);
    // Put the other organization's back too, as its own recovery; those written after the backup are lost with the delete.
    await recoverOrganization({ organizationId: other, choice: { id: backup.id } });
    expect(await messageCount(other)).toBe(otherMessages - writtenAfter);
  });

  it("changes nothing in a dry run, and gives the exact counts", async () => {
    await directDb()`delete from conversation_messages m using conversations c where c.id = m.conversation_id and c.organization_id = ${damaged}`;
    const [{ n: rowsBefore } = { n: 0 }] = await directDb()<{ n: number }[]>`select count(*)::int as n from conversation_messages`;
    const dry = await recoverOrganization({ organizationId: damaged, choice: { latest: true }, dryRun: true });
    expect(dry.applied).toBe(false);
    expect(dry.outcomes.find((o) => o.table === "conversation_messages")?.inserted).toBeGreaterThan(0);
    const [{ n: rowsAfter } = { n: 0 }] = await directDb()<{ n: number }[]>`select count(*)::int as n from conversation_messages`;
    expect(rowsAfter).toBe(rowsBefore);
    expect(await messageCount(damaged)).toBe(0);
  });

  it("from the command line: a dry run, a refusal without --yes, then the recovery with --before and --table", async () => {
    const env = { ...settings, DATABASE_URL: TEST_DATABASE_URL, BACKUP_DIR: backupDir, BACKUP_SIGNING_KEY: TEST_SIGNING_KEY };
    const dry = await runScript("recover", ["--organization", damaged, "--dry-run"], env);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(
      /^backup \d+ \(taken \S+Z, \d+ min old\) from s3:\/\/gap-recover\/backups\/\S+, restored into scratch database gap_recover_\d+$/m,
    );
    expect(dry.stdout).toMatch(/^\s*table\s+inBackup\s+alreadyLive\s+toInsert\s+conflicting$/m);
    expect(dry.stdout).toMatch(/^dry run: \d+ rows would be inserted into postgres:\/\/\S+; nothing was changed$/m);
    const refused = await runScript("recover", ["--organization", damaged], env);
    expect(refused).toMatchObject({ code: 2, stderr: expect.stringContaining("nothing inserted: run again with --yes to insert them") });
    expect(await messageCount(damaged)).toBe(0);
    const recovered = await runScript(
      "recover",
      ["--organization", damaged, "--table", "conversation_messages", "--before", new Date(Date.now() + 60_000).toISOString(), "--yes"],
      env,
    );
    expect(recovered.code).toBe(0);
    expect(recovered.stdout).toMatch(/^inserted \d+ rows of organization \S+ into postgres:\/\/\S+ from backup \d+; 0 could not come back/m);
    expect(recovered.stdout).toMatch(/^rows written after \S+ are not in this backup/m);
    expect(await fingerprint(damaged)).toEqual(before);
    expect(await runScript("recover", ["--organization", "not-a-uuid"], env)).toMatchObject({
      code: 2,
      stderr: expect.stringContaining("--organization must be an organization's id"),
    });
    expect(await runScript("recover", ["--organization", damaged, "--table", "job_queue_jobs", "--dry-run"], env)).toMatchObject({
      code: 1,
      stderr: expect.stringContaining("job_queue_jobs: not a table holding an organization's data"),
    });
    expect(await runScript("recover", ["--organization", damaged, "--before", "2020-01-01T00:00Z"], env)).toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/no backup in s3:\/\/gap-recover\/backups\/ was taken before 2020-01-01T00:00:00\.000Z/),
    });
  });

  it("refuses an archive another key signed, or a manifest changed after signing, before restoring anything", async () => {
    const foreign = await (async () => {
      await useConfig({ BACKUP_DIR: backupDir, PG_BIN_DIR: "", ...settings, BACKUP_SIGNING_KEY: "another-installation-key-0123456789abcdef" });
      const taken = await takeBackup();
      await useConfig({ BACKUP_DIR: backupDir, PG_BIN_DIR: "", ...settings, BACKUP_SIGNING_KEY: TEST_SIGNING_KEY });
      return taken;
    })();
    await expect(recoverOrganization({ organizationId: damaged, choice: { id: foreign.id } })).rejects.toThrow(BackupUntrustedError);
    await expect(recoverOrganization({ organizationId: damaged, choice: { latest: true } })).rejects.toThrow(
      /its manifest is signed by key \S+, which is not BACKUP_SIGNING_KEY/,
    );
    const ours = await takeBackup();
    const key = `backups/${path.basename(new URL(ours.copies[1] ?? "").pathname)}`;
    const { signature: _, ...body } = JSON.parse((await store.read(BUCKET, manifestPathOf(key))).toString()) as ManifestBody & { signature: unknown };
    await store.write(BUCKET, manifestPathOf(key), JSON.stringify({ ...JSON.parse(signedManifestText(body, TEST_SIGNING_KEY)), tables: {} }));
    // A fresh machine: the bucket's copy is the one read (by id, a copy in BACKUP_DIR would be preferred).
    await useConfig({ BACKUP_DIR: path.join(backupDir, "fresh"), PG_BIN_DIR: "", BACKUP_SIGNING_KEY: TEST_SIGNING_KEY, ...settings });
    await expect(recoverOrganization({ organizationId: damaged, choice: { id: ours.id } })).rejects.toThrow(/does not match its signature/);
    const [scratches] =
      await directDb()`select count(*)::int as n from pg_database where datname like 'gap\\_recover\\_%' and datname > ${`gap_recover_${Date.now() - 60_000}`}`;
    expect(scratches?.n).toBe(0);
  });

  it("refuses an organization the backup does not have", async () => {
    await expect(recoverOrganization({ organizationId: "00000000-0000-0000-0000-000000000000", choice: { id: backup.id } })).rejects.toThrow(
      RecoveryRefusedError,
    );
  });
});
