/**
 * In the `owner` project: the platform as the owner managed PostgreSQL gives, not a superuser.
 * The role's attributes are checked first, so a harness that silently ran as a superuser fails
 * here; then what only such an owner meets: a drill into a scratch database the owner cannot
 * create hypopg or pg_stat_statements in, and a restore whose objects need one.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import postgres from "postgres";
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from "vitest";
import { takeBackup } from "../functions/backup.js";
import { disasterRecoveryDrill } from "../functions/dr-drill.js";
import { restoreChosenBackup } from "../functions/restore.js";
import { signalSession } from "../functions/session-signal.js";
import { RestoreRefusedError } from "../lib/backups/errors.js";
import { SessionSignalError } from "../lib/db/errors.js";
import { directDb } from "../lib/db/pool.js";
import { useConfig } from "./harness/config.js";
import { seededDemo } from "./harness/demo.js";
import { superuserDb, TEST_DATABASE_URL } from "./harness/file-database.js";
import { PRECREATED_EXTENSIONS, urlAs } from "./harness/owner.js";
import { adminConnection, createDatabase, databaseUrl, dropDatabase, testDatabaseName } from "./harness/postgres-admin.js";
import { quietConsole } from "./harness/console.js";

const admin = adminConnection(inject("serverUrl"));
const targets: string[] = [];
let backupDir: string;

beforeAll(async () => {
  backupDir = await mkdtemp(path.join(tmpdir(), "gap-owner-"));
  await seededDemo();
  await useConfig({ BACKUP_DIR: backupDir });
});
afterAll(async () => {
  for (const name of targets) await dropDatabase(admin, name);
  await admin.end();
  await rm(backupDir, { recursive: true, force: true });
});
beforeEach(() => quietConsole("error", "log"));

describe("as the managed owner", () => {
  it("runs as a role that is not a superuser, with CREATEDB, CREATEROLE and the monitoring roles, over extensions a superuser created", async () => {
    expect(inject("superuser")).toBe(false);
    const [role] = await directDb()<{ superuser: boolean; createdb: boolean; createrole: boolean; roles: string[]; ownsDatabase: boolean }[]>`
      select
        r.rolsuper as superuser,
        r.rolcreatedb as createdb,
        r.rolcreaterole as createrole,
        to_json(array(
          select g.rolname::text from pg_roles g
          where g.rolname in ('pg_monitor', 'pg_read_all_stats', 'pg_signal_backend') and pg_has_role(current_user, g.oid, 'member')
          order by 1
        )) as roles,
        (select d.datdba = r.oid from pg_database d where d.datname = current_database()) as "ownsDatabase"
      from pg_roles r
      where r.rolname = current_user`;
    expect(role).toEqual({
      superuser: false,
      createdb: true,
      createrole: true,
      roles: ["pg_monitor", "pg_read_all_stats", "pg_signal_backend"],
      ownsDatabase: true,
    });
    const extensions = await directDb()<{ name: string; schema: string; ownedByMe: boolean }[]>`
      select e.extname as name, n.nspname as schema, e.extowner = (select oid from pg_roles where rolname = current_user) as "ownedByMe"
      from pg_extension e join pg_namespace n on n.oid = e.extnamespace
      where e.extname in ${directDb()([...PRECREATED_EXTENSIONS])}
      order by 1`;
    expect(extensions.length).toBeGreaterThan(0);
    for (const extension of extensions) expect(extension).toMatchObject({ schema: "extensions", ownedByMe: false });
    await expect(directDb()`create extension if not exists pg_buffercache`).rejects.toThrow(/permission denied to create extension "pg_buffercache"/);
  });

  it("cancels another role's query with pg_signal_backend, and is refused a superuser's, with the server's reason", async () => {
    const role = `gap_owner_victim_${process.pid}`;
    const password = randomBytes(12).toString("hex");
    await directDb()`drop role if exists ${directDb()(role)}`;
    await directDb()`create role ${directDb()(role)} login`;
    await directDb().begin(async (tx) => {
      await tx`select set_config('gap.victim_name', ${role}, true), set_config('gap.victim_password', ${password}, true)`;
      await tx`do $$ begin execute format('alter role %I password %L', current_setting('gap.victim_name'), current_setting('gap.victim_password')); end $$`;
    });
    const other = postgres(urlAs(TEST_DATABASE_URL, role, password), { max: 1, onnotice: () => undefined });
    const superuser = superuserDb();
    try {
      const [{ pid: otherPid } = { pid: 0 }] = await other<{ pid: number }[]>`select pg_backend_pid() as pid`;
      const otherSleep = other`select pg_sleep(30)`.catch((error: unknown) => error);
      const [{ pid: superPid } = { pid: 0 }] = await superuser<{ pid: number }[]>`select pg_backend_pid() as pid`;
      const superSleep = superuser`select pg_sleep(3)`.catch((error: unknown) => error);
      await expect
        .poll(async () => (await directDb()`select 1 from pg_stat_activity where pid in (${otherPid}, ${superPid}) and state = 'active'`).length)
        .toBe(2);

      const refused = await signalSession(directDb(), superPid, "cancel", { confirmed: true }).catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(SessionSignalError);
      expect((refused as Error).message).toBe(`not allowed to cancel session ${superPid}: must be a superuser to cancel superuser query`);

      expect(await signalSession(directDb(), otherPid, "cancel", { confirmed: true })).toMatchObject({ sent: true, session: { pid: otherPid } });
      expect(await otherSleep).toMatchObject({ code: "57014" });
      expect(await superSleep).not.toBeInstanceOf(Error);
    } finally {
      await other.end();
      await directDb()`drop role ${directDb()(role)}`;
    }
  });

  it("drills into a scratch database it made, reporting the extensions it may not create and no restored object needs", async () => {
    await takeBackup();
    const result = await disasterRecoveryDrill();
    expect(result.applicationCheck).toMatch(/^read agent [0-9a-f-]{36} with 3 workflow\(s\)$/);
    const skipped = result.extensions.filter((e) => e.status === "skipped");
    expect(skipped.map((e) => e.name).sort()).toEqual(
      (
        await directDb()<{ name: string }[]>`select extname as name from pg_extension where extname in ${directDb()([...PRECREATED_EXTENSIONS])} order by 1`
      ).map((r) => r.name),
    );
    for (const extension of skipped) {
      expect(extension).toMatchObject({ schema: "extensions", required: false, reason: expect.stringMatching(/^permission denied to create extension "\w+"/) });
    }
  });

  it("says what a drill's role lacks when it may not create the scratch database, and records the failure", async () => {
    const role = `gap_owner_nocreatedb_${process.pid}`;
    const password = randomBytes(12).toString("hex");
    await directDb()`drop role if exists ${directDb()(role)}`;
    await directDb()`create role ${directDb()(role)} login nocreatedb`;
    await directDb().begin(async (tx) => {
      await tx`select set_config('gap.role_name', ${role}, true), set_config('gap.role_password', ${password}, true)`;
      await tx`do $$ begin execute format('alter role %I password %L', current_setting('gap.role_name'), current_setting('gap.role_password')); end $$`;
    });
    try {
      await takeBackup();
      const drill = disasterRecoveryDrill({ serverUrl: urlAs(TEST_DATABASE_URL, role, password) });
      await expect(drill).rejects.toThrow(
        "the drill's role may not create its scratch database (permission denied to create database): give it CREATEDB (Supabase's postgres has it), or run the drill with --server <url of a role that has it>",
      );
      const [recorded] = await directDb()<{ status: string; error: string }[]>`select status, error from ops.dr_drills order by id desc limit 1`;
      expect(recorded).toMatchObject({ status: "failed", error: expect.stringContaining("may not create its scratch database") });
    } finally {
      await directDb()`drop role ${directDb()(role)}`;
    }
  });

  it("refuses a restore whose objects need an extension it may not create, naming the extension and the privilege, before touching the target", async () => {
    const [hypopg] = await directDb()`select 1 from pg_extension where extname = 'hypopg'`;
    if (!hypopg) throw new Error("hypopg is needed here: the harness pre-creates it where the server offers it (Debian: postgresql-15-hypopg)");
    await directDb()`create view public.hypothetical_indexes as select * from extensions.hypopg_list_indexes`;
    try {
      const backup = await takeBackup();
      const name = testDatabaseName();
      await createDatabase(admin, name);
      targets.push(name);
      const target = databaseUrl(inject("serverUrl"), name);
      const restoring = restoreChosenBackup({ location: fileURLToPath(backup.location) }, target);
      await expect(restoring).rejects.toThrow(RestoreRefusedError);
      await expect(restoreChosenBackup({ location: fileURLToPath(backup.location) }, target)).rejects.toThrow(
        /^the archive's objects need extension\(s\) the target does not have and the restore cannot create: hypopg \(permission denied to create extension "hypopg" Must be superuser to create this extension\.\)\. Create them as a role that may/,
      );
      const copy = adminConnection(target);
      const [left] = await copy<{ tables: number; schemas: number; extensions: number }[]>`
        select
          (select count(*)::int from pg_tables where schemaname not in ('pg_catalog', 'information_schema')) as tables,
          (select count(*)::int from pg_namespace where nspname in ('ops', 'extensions', 'supabase_migrations')) as schemas,
          (select count(*)::int from pg_extension where extname <> 'plpgsql') as extensions`;
      await copy.end();
      expect(left).toEqual({ tables: 0, schemas: 0, extensions: 0 });
    } finally {
      await directDb()`drop view public.hypothetical_indexes`;
    }
  });
});
