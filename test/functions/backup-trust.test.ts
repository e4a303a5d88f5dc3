/**
 * What a restore trusts, against a real PostgreSQL with the real pg_dump and pg_restore: only
 * archives this installation signed, extensions only from a signed manifest and only in their
 * usual schema, files never written through a planted link, and archives a person can open
 * with the `age` tool alone.
 */
import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { generateIdentity, identityToRecipient } from "age-encryption";
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from "vitest";
import { takeBackup } from "../../functions/backup.js";
import { restoreChosenBackup } from "../../functions/restore.js";
import { BackupUntrustedError, RestoreRefusedError, UnsafeBackupDirError } from "../../lib/backups/errors.js";
import { signedManifestText, signingKeyId, type ManifestBody } from "../../lib/backups/manifest.js";
import { manifestPathOf } from "../../lib/backups/names.js";
import { directDb } from "../../lib/db/pool.js";
import { useConfig } from "../harness/config.js";
import { seededDemo } from "../harness/demo.js";
import { TEST_SIGNING_KEY } from "../harness/file-database.js";
import { serve, type RunningServer } from "../harness/http.js";
import { adminConnection } from "../harness/postgres-admin.js";
import { throwawayDatabases } from "../harness/throwaway-databases.js";
import { runScript } from "../harness/scripts.js";
import { commandAvailable } from "../harness/services.js";
import { webhookReceiver, type WebhookReceiver } from "../harness/webhook.js";
import { quietConsole } from "../harness/console.js";

const SECRET = "cron-secret-0123456789abcdef";
const OTHER_KEY = "another-installation-key-0123456789abcdef";
const withPgTools = commandAvailable("pg_dump") && commandAvailable("pg_restore");
const withAge = commandAvailable("age");
const withZstd = commandAvailable("zstd");
const databases = throwawayDatabases(inject("serverUrl"));
let backupDir: string;
let hook: WebhookReceiver;
let server: RunningServer;

async function untouched(url: string): Promise<{ tables: number; extensions: string[]; schemas: string[] }> {
  const sql = adminConnection(url);
  const [row] = await sql<{ tables: number; extensions: string[]; schemas: string[] }[]>`
    select
      (select count(*)::int from pg_tables where schemaname in ('public', 'ops', 'supabase_migrations', 'extensions')) as tables,
      to_json(array(select extname::text from pg_extension where extname <> 'plpgsql' order by 1)) as extensions,
      to_json(array(select nspname::text from pg_namespace where nspname in ('ops', 'extensions', 'supabase_migrations') order by 1)) as schemas`;
  await sql.end();
  return row ?? { tables: -1, extensions: [], schemas: [] };
}
const EMPTY = { tables: 0, extensions: [], schemas: [] };

const alerts = (key: string) => hook.received.map((r) => (r.body as { alert: { key: string; status: string } }).alert).filter((a) => a.key === key);

/** Rewrites a backup's manifest (re-signed with `key`, or left unsigned with null). */
async function rewrittenManifest(archive: string, change: (manifest: Record<string, unknown>) => void, key: string | null): Promise<void> {
  const file = manifestPathOf(archive);
  const { signature: _, ...body } = JSON.parse(await readFile(file, "utf8")) as Record<string, unknown>;
  change(body);
  await rm(file);
  await writeFile(file, key ? signedManifestText(body as ManifestBody, key) : JSON.stringify(body));
}

beforeAll(async () => {
  backupDir = await mkdtemp(path.join(tmpdir(), "gap-trust-"));
  hook = await webhookReceiver();
  await seededDemo();
  await useConfig({ BACKUP_DIR: backupDir, ALERT_WEBHOOK_URL: hook.url, CRON_SECRET: SECRET, PG_BIN_DIR: "" });
  server = await serve();
});
afterAll(async () => {
  await server.close();
  await hook.close();
  await databases.dropAll();
  await rm(backupDir, { recursive: true, force: true });
});
beforeEach(() => quietConsole("error", "log", "warn"));

describe.skipIf(!withPgTools)("signed manifests", () => {
  it("refuses an archive signed by another key, an unsigned one and a changed one, before touching the target", async () => {
    await useConfig({ BACKUP_SIGNING_KEY: OTHER_KEY });
    const foreign = fileURLToPath((await takeBackup()).location);
    await useConfig({ BACKUP_SIGNING_KEY: TEST_SIGNING_KEY });
    const target = await databases.empty();
    await expect(restoreChosenBackup({ location: foreign }, target)).rejects.toThrow(BackupUntrustedError);
    const [other, ours] = [signingKeyId(OTHER_KEY), signingKeyId(TEST_SIGNING_KEY)];
    await expect(restoreChosenBackup({ location: foreign }, target)).rejects.toThrow(
      new RegExp(
        `^refusing \\S+\\.json: its manifest is signed by key ${other}, which is not BACKUP_SIGNING_KEY \\(key ${ours}\\) nor one of BACKUP_PREVIOUS_SIGNING_KEYS: ` +
          `set the key whose id is ${other}\\. Restore it only if you know where it came from, with --allow-unsigned$`,
      ),
    );
    const unsigned = fileURLToPath((await takeBackup()).location);
    await rewrittenManifest(unsigned, () => undefined, null);
    await expect(restoreChosenBackup({ location: unsigned }, target)).rejects.toThrow(/its manifest is not signed/);
    const changed = fileURLToPath((await takeBackup()).location);
    const file = manifestPathOf(changed);
    const manifest = JSON.parse(await readFile(file, "utf8")) as { tables: Record<string, number> };
    manifest.tables["public.agents"] = 1;
    await rm(file);
    await writeFile(file, JSON.stringify(manifest));
    await expect(restoreChosenBackup({ location: changed }, target)).rejects.toThrow(
      /its manifest does not match its signature: it was changed after it was signed/,
    );
    expect(await untouched(target)).toEqual(EMPTY);
  });

  it("restores another installation's archive only with --allow-unsigned, creating none of its extensions", async () => {
    await useConfig({ BACKUP_SIGNING_KEY: OTHER_KEY });
    const foreign = fileURLToPath((await takeBackup()).location);
    await useConfig({ BACKUP_SIGNING_KEY: TEST_SIGNING_KEY });
    const restore = (args: string[]) => runScript("restore", args, { DATABASE_URL: "", BACKUP_DIR: backupDir, BACKUP_SIGNING_KEY: TEST_SIGNING_KEY });
    const target = await databases.empty();
    const refused = await restore([foreign, "--target", target]);
    expect(refused).toMatchObject({
      code: 1,
      stderr: expect.stringMatching(
        /^error: refusing \S+: its manifest is signed by key [0-9a-f]{16}, which is not BACKUP_SIGNING_KEY .* with --allow-unsigned\n$/,
      ),
    });
    const taken = await restore([foreign, "--target", target, "--allow-unsigned"]);
    expect(taken.code).toBe(0);
    expect(taken.stdout).toContain("warning: the archive's manifest is not signed by this installation (other-key); restored because of --allow-unsigned");
    expect(taken.stdout).toMatch(/extension hypopg: skipped \(the manifest is not signed, so the restore creates no extension from it: create it first\)/);
    expect((await untouched(target)).extensions).toEqual([]);
  });
});

describe.skipIf(!withPgTools)("extensions of a restore", () => {
  it("creates an extension the restored objects need, and marks it required in the manifest", async () => {
    await directDb()`create extension if not exists citext`;
    await directDb()`create table trust_emails (id int primary key, email citext)`;
    await directDb()`insert into trust_emails values (1, 'Ada@Example.com')`;
    try {
      const backup = await takeBackup();
      const manifest = JSON.parse(await readFile(manifestPathOf(fileURLToPath(backup.location)), "utf8")) as { extensions: unknown[] };
      expect(manifest.extensions).toContainEqual({ name: "citext", schema: "public", required: true });
      const [statements] = await directDb()<{ schema: string }[]>`
        select n.nspname as schema from pg_extension e join pg_namespace n on n.oid = e.extnamespace where e.extname = 'pg_stat_statements'`;
      expect(manifest.extensions).toContainEqual({ name: "pg_stat_statements", schema: statements?.schema, required: false });
      const target = await databases.empty();
      const restored = await restoreChosenBackup({ location: fileURLToPath(backup.location) }, target);
      expect(restored.extensions).toContainEqual({ name: "citext", schema: "public", required: true, status: "created" });
      const copy = adminConnection(target);
      expect(await copy`select id from trust_emails where email = 'ada@example.com'`).toEqual([{ id: 1 }]);
      await copy.end();
    } finally {
      await directDb()`drop table trust_emails`;
      await directDb()`drop extension citext`;
    }
  });

  it("creates extensions only in their usual schema, never in one the manifest names, and refuses a needed one before touching", async () => {
    const archive = fileURLToPath((await takeBackup()).location);
    await rewrittenManifest(archive, (m) => (m.extensions = [{ name: "citext", schema: "pg_catalog_evil", required: false }]), TEST_SIGNING_KEY);
    const target = await databases.empty();
    const restored = await restoreChosenBackup({ location: archive }, target);
    expect(restored.extensions).toEqual([
      {
        name: "citext",
        schema: "pg_catalog_evil",
        required: false,
        status: "skipped",
        reason: "schema pg_catalog_evil is not where it is created (extensions or public)",
      },
    ]);
    expect((await untouched(target)).schemas).not.toContain("pg_catalog_evil");
    await rewrittenManifest(archive, (m) => (m.extensions = [{ name: "citext", schema: "pg_catalog_evil", required: true }]), TEST_SIGNING_KEY);
    const second = await databases.empty();
    await expect(restoreChosenBackup({ location: archive }, second)).rejects.toThrow(RestoreRefusedError);
    await expect(restoreChosenBackup({ location: archive }, second)).rejects.toThrow(
      "the archive's objects need extension(s) the target does not have and the restore cannot create: citext (schema pg_catalog_evil is not where it is created (extensions or public))",
    );
    await rewrittenManifest(archive, (m) => (m.extensions = [{ name: "no_such_extension", schema: "extensions", required: true }]), TEST_SIGNING_KEY);
    await expect(restoreChosenBackup({ location: archive }, second)).rejects.toThrow(/no_such_extension \(the target server does not offer it\)/);
    expect(await untouched(second)).toEqual(EMPTY);
  });
});

describe.skipIf(!withPgTools || !withAge || !withZstd)("encrypted archives", () => {
  it("open with the age and zstd tools alone, into an archive pg_restore reads", async () => {
    const identity = await generateIdentity();
    await useConfig({ BACKUP_AGE_RECIPIENTS: await identityToRecipient(identity) });
    try {
      const archive = fileURLToPath((await takeBackup()).location);
      const keyFile = path.join(backupDir, "key.txt");
      await writeFile(keyFile, `# created by a test\n${identity}\n`, { mode: 0o600 });
      const compressed = execFileSync("age", ["--decrypt", "--identity", keyFile, archive], { maxBuffer: 256 * 1024 * 1024 });
      const plain = execFileSync("zstd", ["--decompress", "--stdout"], { input: compressed, maxBuffer: 256 * 1024 * 1024 });
      expect(plain.subarray(0, 5).toString()).toBe("PGDMP");
      const list = execFileSync("pg_restore", ["--list"], { input: plain }).toString();
      expect(list).toMatch(/TABLE DATA public conversation_messages/);
      await useConfig({ BACKUP_AGE_RECIPIENTS: "", BACKUP_AGE_IDENTITY_FILE: keyFile });
      const restored = await restoreChosenBackup({ location: archive }, await databases.empty());
      expect(restored.manifest.encryption?.format).toBe("age");
    } finally {
      await useConfig({ BACKUP_AGE_RECIPIENTS: "", BACKUP_AGE_IDENTITY_FILE: "" });
    }
  });
});

describe.skipIf(!withPgTools)("files in BACKUP_DIR", () => {
  it("are never written through a link planted at a final or a formerly predictable name", async () => {
    const victimDir = await mkdtemp(path.join(tmpdir(), "gap-victim-"));
    const victim = path.join(victimDir, "precious");
    await writeFile(victim, "root's file");
    const [next] = await directDb()<{ id: string }[]>`select (coalesce(max(id), 0) + 1)::text as id from ops.backups`;
    const now = Date.now();
    const planted: string[] = [];
    for (let second = -1; second <= 5; second++) {
      const stamp = new Date(now + second * 1000)
        .toISOString()
        .replace(/[-:]/g, "")
        .replace(/\.\d+Z$/, "Z");
      for (const suffix of [".dump", ".json", ".dump.partial", ".json.partial", `.dump.${process.pid}.list`]) {
        const name = path.join(backupDir, `gap-${stamp}-${next?.id}${suffix}`);
        await symlink(victim, name).catch(() => undefined);
        planted.push(name);
      }
    }
    await expect(takeBackup()).rejects.toThrow(UnsafeBackupDirError);
    expect(await readFile(victim, "utf8")).toBe("root's file");
    for (const name of planted) await rm(name, { force: true });
    await rm(victimDir, { recursive: true, force: true });
  });

  it("refuses a BACKUP_DIR other users can write, at start-up and at each run", async () => {
    const open = await mkdtemp(path.join(tmpdir(), "gap-open-"));
    execFileSync("chmod", ["777", open]);
    await useConfig({ BACKUP_DIR: open });
    await expect(takeBackup()).rejects.toThrow(`BACKUP_DIR ${open} is writable by other users (mode 777): run chmod go-w ${open}, or use another folder`);
    const started = await runScript("worker", [], {
      DATABASE_URL: "postgres://u:p@127.0.0.1:1/x",
      BACKUP_WORKER_URL: "https://worker.example.com",
      QSTASH_CURRENT_SIGNING_KEY: "a",
      QSTASH_NEXT_SIGNING_KEY: "b",
      BACKUP_SIGNING_KEY: TEST_SIGNING_KEY,
      BACKUP_DIR: open,
      PORT: "0",
    });
    expect(started).toMatchObject({
      code: 1,
      stderr: `error: BACKUP_DIR ${open} is writable by other users (mode 777): run chmod go-w ${open}, or use another folder\n`,
    });
    await useConfig({ BACKUP_DIR: backupDir });
    await rm(open, { recursive: true, force: true });
  });
});

describe.skipIf(!withPgTools)("a backup whose pruning fails", () => {
  it("still succeeds; the pruning failure is logged and alerted on its own", async () => {
    await directDb()`delete from ops.backups`;
    for (let i = 0; i < 3; i++) await takeBackup();
    const blocker = path.join(backupDir, "gap-blocker.dump");
    await mkdir(blocker);
    await directDb()`insert into ops.backups (finished_at, status, location, size_bytes, sha256)
      values (now() - interval '40 days', 'succeeded', ${`file://${blocker}`}, 1, ${"0".repeat(64)})`;
    const result = await takeBackup();
    expect(result.status).toBe("succeeded");
    expect(result.pruneError).toMatch(/EISDIR|is a directory/i);
    expect(alerts("job:backup-prune").at(-1)).toMatchObject({ status: "firing" });
    expect(alerts("job:backup").filter((a) => a.status === "firing")).toEqual([]);
    const [row] = await directDb()`select status from ops.backups where id = ${result.id}`;
    expect(row?.status).toBe("succeeded");
    await rm(blocker, { recursive: true, force: true });
    await directDb()`delete from ops.backups where location = ${`file://${blocker}`}`;
    await takeBackup();
    expect(alerts("job:backup-prune").at(-1)).toMatchObject({ status: "resolved" });
  });
});

describe.skipIf(!withPgTools)("archive errors over HTTP", () => {
  it("answer the drill cron 422 BACKUP_REJECTED with the reason, not a generic 500", async () => {
    const archive = fileURLToPath((await takeBackup()).location);
    await writeFile(archive, Buffer.concat([await readFile(archive), Buffer.from("tail")]));
    const response = await fetch(`${server.baseUrl}/api/cron/dr-drill`, { headers: { authorization: `Bearer ${SECRET}` } });
    expect(response.status).toBe(422);
    expect(await response.json()).toMatchObject({
      error: {
        code: "BACKUP_REJECTED",
        message: expect.stringMatching(
          /^the newest backup in BACKUP_DIR \(.*\), gap-\S+ \(started .*\), cannot be restored: its archive \S+ is \d+ bytes where the manifest says \d+\./,
        ),
      },
    });
  });
});
