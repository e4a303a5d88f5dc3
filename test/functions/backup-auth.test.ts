/**
 * Scenario 1 on Supabase: the backup carries Auth's rows, and a restore into a new project puts
 * them back with the same ids, so people sign in as themselves and see their organizations.
 * Against a fixture of Supabase's auth schema as a project has it (owned by the auth role,
 * generated columns included), the real pg_dump and pg_restore.
 */
import { execFileSync } from "node:child_process";
import { mkdtemp, readFile, rm, copyFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from "vitest";
import { takeBackup, type BackupResult } from "../../functions/backup.js";
import { drillJob } from "../../functions/dr-drill.js";
import { restoreChosenBackup } from "../../functions/restore.js";
import { BackupIntegrityError, RestoreRefusedError } from "../../lib/backups/errors.js";
import { parsedManifest, signedManifestText, type ManifestBody } from "../../lib/backups/manifest.js";
import { manifestPathOf } from "../../lib/backups/names.js";
import { directDb } from "../../lib/db/pool.js";
import { quietConsole } from "../harness/console.js";
import { useConfig } from "../harness/config.js";
import { seededDemo, type DemoCallers } from "../harness/demo.js";
import { TEST_DATABASE_URL, TEST_SIGNING_KEY } from "../harness/file-database.js";
import { serve } from "../harness/http.js";
import { adminConnection, databaseUrl, withConnection } from "../harness/postgres-admin.js";
import { throwawayDatabases } from "../harness/throwaway-databases.js";
import { runScript } from "../harness/scripts.js";
import { commandAvailable } from "../harness/services.js";
import { seedSupabaseAuth, withSupabaseAuth, type AuthSeed } from "../harness/supabase-auth.js";
import { TEST_JWT_SECRET } from "../harness/tokens.js";

const withTools = commandAvailable("pg_dump") && commandAvailable("pg_restore") && commandAvailable("zstd");
const databases = throwawayDatabases(inject("serverUrl"));
const fileDatabase = new URL(TEST_DATABASE_URL).pathname.slice(1);
let backupDir: string;
let callers: DemoCallers;
let seed: AuthSeed;
let backup: BackupResult;
let platformRole: string;

/** A new Supabase project's database: Auth's schema there, no one in it. */
async function newProject(): Promise<string> {
  const url = await databases.empty();
  await withSupabaseAuth(databaseUrl(inject("superuserUrl"), new URL(url).pathname.slice(1)), platformRole);
  return url;
}

const people = (sql: ReturnType<typeof adminConnection>) =>
  sql`select id::text, email, encrypted_password, confirmed_at, raw_app_meta_data from auth.users order by id`;
const identities = (sql: ReturnType<typeof adminConnection>) =>
  sql`select id::text, user_id::text, provider, provider_id, identity_data, email from auth.identities order by id`;

beforeAll(async () => {
  backupDir = await mkdtemp(path.join(tmpdir(), "gap-auth-"));
  callers = await seededDemo();
  const [me] = await directDb()<{ role: string }[]>`select current_user as role`;
  platformRole = me?.role ?? "";
  await withSupabaseAuth(databaseUrl(inject("superuserUrl"), fileDatabase), platformRole);
  seed = await seedSupabaseAuth(directDb());
  await useConfig({ BACKUP_DIR: backupDir, PG_BIN_DIR: "" });
  if (withTools) backup = await takeBackup();
});
afterAll(async () => {
  await databases.dropAll();
  await rm(backupDir, { recursive: true, force: true });
});
beforeEach(() => quietConsole("error", "log"));

describe.skipIf(!withTools)("a backup of a Supabase project", () => {
  it("carries the rows a sign-in needs, counted per table and per provider, never sessions, tokens or the audit log", async () => {
    const archive = fileURLToPath(backup.location);
    const manifest = parsedManifest(await readFile(manifestPathOf(archive), "utf8"), "manifest");
    expect(backup.authUsers).toBe(seed.users);
    expect(manifest.auth).toEqual({
      archive: path.basename(archive).replace(/\.dump\.zst$/, ".auth.dump.zst"),
      sizeBytes: expect.any(Number),
      sha256: expect.stringMatching(/^[0-9a-f]{64}$/),
      tables: {
        "auth.users": seed.users,
        "auth.identities": seed.identities.email + seed.identities.google,
        "auth.mfa_factors": 1,
        "auth.sso_providers": 1,
        "auth.sso_domains": 1,
        "auth.saml_providers": 1,
      },
      identities: seed.identities,
      usersWithoutAuth: 0,
    });
    const plain = execFileSync("zstd", ["--decompress", "--stdout", path.join(backupDir, manifest.auth?.archive ?? "")], { maxBuffer: 64 * 1024 * 1024 });
    const entries = execFileSync("pg_restore", ["--list"], { input: plain })
      .toString()
      .split("\n")
      .filter((line) => /^\d+;/.test(line))
      .map((line) => line.replace(/^\d+; \d+ \d+ /, "").replace(/ \S+$/, ""));
    expect([...entries].sort()).toEqual(
      ["users", "identities", "mfa_factors", "sso_providers", "sso_domains", "saml_providers"].map((table) => `TABLE DATA auth ${table}`).sort(),
    );
    // Data only, each table after the ones it references: the new project has the tables and their keys.
    const at = (table: string) => entries.indexOf(`TABLE DATA auth ${table}`);
    expect(at("users")).toBeLessThan(Math.min(at("identities"), at("mfa_factors")));
    expect(at("sso_providers")).toBeLessThan(Math.min(at("sso_domains"), at("saml_providers")));
  });
});

describe.skipIf(!withTools)("a restore into a new Supabase project", () => {
  it("puts every person back with the same id, so their tokens' sub finds their organizations again", async () => {
    const target = await newProject();
    const restored = await restoreChosenBackup({ location: fileURLToPath(backup.location) }, target);
    expect(restored.auth).toEqual({ status: "restored", users: seed.users, identities: seed.identities });
    expect(await withConnection(target, people)).toEqual(await people(directDb()));
    // The generated columns are the new project's own, computed again from the restored rows.
    const restoredIdentities = await withConnection(target, identities);
    expect(restoredIdentities).toEqual(await identities(directDb()));
    expect(restoredIdentities.every((row) => row.email === String(row.identity_data.email).toLowerCase())).toBe(true);
    const carried = await withConnection(
      target,
      (sql) => sql`
      select (select count(*)::int from auth.sessions) as sessions, (select count(*)::int from auth.refresh_tokens) as tokens,
        (select count(*)::int from auth.audit_log_entries) as audit, (select count(*)::int from auth.mfa_factors) as factors,
        (select count(*)::int from public.users u where not exists (select 1 from auth.users a where a.id = u.id)) as "withoutAuth"`,
    );
    expect(carried).toEqual([{ sessions: 0, tokens: 0, audit: 0, factors: 1, withoutAuth: 0 }]);
    // The platform on the restored database: the same person's token sees the same organizations.
    const before = await fetchAgents(TEST_DATABASE_URL);
    const after = await fetchAgents(target);
    expect(after).toEqual({ status: 200, organizations: before.organizations });
    expect(after.organizations.length).toBeGreaterThan(0);
  });

  it("on a plain PostgreSQL (no auth schema), restores the platform as before and says Auth was skipped, its archive proven intact", async () => {
    const restored = await restoreChosenBackup({ location: fileURLToPath(backup.location) }, await databases.empty());
    expect(restored.auth).toEqual({
      status: "skipped",
      reason: "the target has no auth schema (it is not a Supabase project's database); its archive was read and is intact",
    });
    expect(restored.rows).toBe(backup.rows);
  });

  it("refuses a project whose Auth already has someone, before touching anything", async () => {
    const target = await newProject();
    await withConnection(target, (sql) => sql`insert into auth.users (id, email) values (gen_random_uuid(), 'early@example.com')`);
    await expect(restoreChosenBackup({ location: fileURLToPath(backup.location) }, target)).rejects.toThrow(RestoreRefusedError);
    await expect(restoreChosenBackup({ location: fileURLToPath(backup.location) }, target)).rejects.toThrow(
      /^the target's Auth already has rows \(auth\.users 1\): restore into a new project nobody has signed up to/,
    );
    expect(await withConnection(target, (sql) => sql`select count(*)::int as tables from pg_tables where schemaname in ('public', 'ops')`)).toEqual([
      { tables: 0 },
    ]);
  });

  it("takes the Auth rows out again when the platform's archive then fails its checksum: the project is as empty as it was", async () => {
    const copyDir = await mkdtemp(path.join(tmpdir(), "gap-auth-damaged-"));
    const archive = path.join(copyDir, path.basename(fileURLToPath(backup.location)));
    const manifestFile = manifestPathOf(fileURLToPath(backup.location));
    const manifest = parsedManifest(await readFile(manifestFile, "utf8"), "manifest");
    await copyFile(fileURLToPath(backup.location), archive);
    await copyFile(path.join(backupDir, manifest.auth?.archive ?? ""), path.join(copyDir, manifest.auth?.archive ?? ""));
    await copyFile(manifestFile, manifestPathOf(archive));
    const bytes = await readFile(archive);
    bytes.writeUInt8(bytes.readUInt8(bytes.length - 10) ^ 0xff, bytes.length - 10);
    await writeFile(archive, bytes);
    const target = await newProject();
    await expect(restoreChosenBackup({ location: archive }, target)).rejects.toThrow(BackupIntegrityError);
    const left = await withConnection(
      target,
      (sql) => sql`
      select (select count(*)::int from auth.users) as users, (select count(*)::int from auth.identities) as identities,
        (select count(*)::int from pg_tables where schemaname in ('public', 'ops')) as tables`,
    );
    expect(left).toEqual([{ users: 0, identities: 0, tables: 0 }]);
    await rm(copyDir, { recursive: true, force: true });
  });

  it("checks the restored Auth against the manifest: identities per provider", async () => {
    const copyDir = await mkdtemp(path.join(tmpdir(), "gap-auth-count-"));
    const archive = path.join(copyDir, path.basename(fileURLToPath(backup.location)));
    const { signature: _, ...body } = JSON.parse(await readFile(manifestPathOf(fileURLToPath(backup.location)), "utf8")) as ManifestBody & {
      signature: unknown;
    };
    await copyFile(fileURLToPath(backup.location), archive);
    await copyFile(path.join(backupDir, body.auth?.archive ?? ""), path.join(copyDir, body.auth?.archive ?? ""));
    const claimed = { ...body, auth: body.auth && { ...body.auth, identities: { ...body.auth.identities, google: seed.identities.google + 1 } } };
    await writeFile(manifestPathOf(archive), signedManifestText(claimed, TEST_SIGNING_KEY));
    await expect(restoreChosenBackup({ location: archive }, await newProject())).rejects.toThrow(
      `restored, but row counts differ from the manifest: identities of provider google ${seed.identities.google} (expected ${seed.identities.google + 1})`,
    );
    await rm(copyDir, { recursive: true, force: true });
  });

  it("prints what came back of Auth from the command line", async () => {
    const restored = await runScript("restore", [fileURLToPath(backup.location), "--target", await newProject()], {
      DATABASE_URL: "",
      BACKUP_DIR: backupDir,
      BACKUP_SIGNING_KEY: TEST_SIGNING_KEY,
    });
    expect(restored.code).toBe(0);
    expect(restored.stdout).toContain(
      `  auth: ${seed.users} users restored with their ids (identities: email ${seed.identities.email}, google ${seed.identities.google}); every platform user has its auth.users row as in the backup`,
    );
  });

  it("a drill, whose scratch database has no Auth, still reads the auth archive whole: a damaged one fails it", async () => {
    const fresh = await takeBackup();
    expect(await drillJob()).toMatchObject({ backupId: fresh.id, rows: fresh.rows });
    const manifest = parsedManifest(await readFile(manifestPathOf(fileURLToPath(fresh.location)), "utf8"), "manifest");
    const authArchive = path.join(backupDir, manifest.auth?.archive ?? "");
    const bytes = await readFile(authArchive);
    bytes.writeUInt8(bytes.readUInt8(bytes.length - 10) ^ 0xff, bytes.length - 10);
    await writeFile(authArchive, bytes);
    await expect(drillJob()).rejects.toThrow(new RegExp(`^${authArchive.replace(/[.]/g, "\\.")} does not match its manifest`));
  });
});

/** The organizations the demo owner's token sees through the platform on the database at `url`. */
async function fetchAgents(url: string): Promise<{ status: number; organizations: string[] }> {
  await useConfig({ DATABASE_URL: url, SUPABASE_POOLER_URL: "", SUPABASE_JWT_SECRET: TEST_JWT_SECRET, BACKUP_DIR: backupDir });
  const server = await serve();
  try {
    const response = await fetch(`${server.baseUrl}/api/agents?limit=100`, { headers: { authorization: `Bearer ${callers.demo.token}` } });
    const body = (await response.json()) as { data?: Array<{ organization_id: string }> };
    return { status: response.status, organizations: [...new Set((body.data ?? []).map((agent) => agent.organization_id))].sort() };
  } finally {
    await server.close();
    await useConfig({ DATABASE_URL: TEST_DATABASE_URL, BACKUP_DIR: backupDir });
  }
}
