import { cp, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inject } from "vitest";
import { MigrationError } from "../../../lib/db/errors.js";
import { appliedVersions, migrate, migrationFiles, MIGRATIONS_DIR } from "../../../lib/db/migrate.js";
import { missingExtensionNotes } from "../../../lib/db/optional-extensions.js";
import { runScript } from "../../harness/scripts.js";
import { testTempDir } from "../../harness/temp.js";
import { adminConnection, createDatabase, databaseUrl, dropDatabase, testDatabaseName } from "../../harness/postgres-admin.js";
import type { Pool } from "../../../lib/db/pool.js";

/** Every index the schema must have: name, table and leading columns. */
const EXPECTED_INDEXES: Array<[string, string, string]> = [
  ["idx_users_email", "users", "lower(email)"],
  ["idx_organization_members_user_id", "organization_members", "user_id"],
  ["idx_agents_organization_created", "agents", "organization_id, created_at DESC, id DESC"],
  ["idx_agent_workflows_agent_position", "agent_workflows", 'agent_id, "position"'],
  ["idx_conversations_organization_id", "conversations", "organization_id"],
  ["idx_conversations_agent_id", "conversations", "agent_id"],
  ["idx_conversations_customer_id", "conversations", "customer_id"],
  ["idx_messages_conversation_created", "conversation_messages", "conversation_id, created_at DESC, id DESC"],
  ["idx_kb_items_organization_id", "knowledge_base_items", "organization_id"],
  ["idx_kb_items_category_id", "knowledge_base_items", "category_id"],
  ["idx_crm_accounts_kommo_account_id", "crm_accounts", "kommo_account_id"],
  ["idx_analytics_events_org_created", "analytics_events", "organization_id, created_at DESC"],
  ["idx_analytics_events_event_type", "analytics_events", "organization_id, event_type, created_at DESC"],
  ["idx_job_queue_jobs_status_run_at", "job_queue_jobs", "status, run_at"],
  ["idx_job_queue_jobs_dedupe_key", "job_queue_jobs", "queue, dedupe_key"],
];

const TABLES = [
  "organizations",
  "users",
  "organization_members",
  "agents",
  "agent_workflows",
  "conversations",
  "conversation_messages",
  "knowledge_base_categories",
  "knowledge_base_items",
  "crm_accounts",
  "analytics_events",
  "job_queue_jobs",
];

let admin: Pool;
const databases: string[] = [];

async function emptyDatabase(): Promise<Pool> {
  const name = testDatabaseName();
  databases.push(name);
  await createDatabase(admin, name);
  return adminConnection(databaseUrl(inject("serverUrl"), name));
}

beforeAll(() => {
  admin = adminConnection(inject("serverUrl"));
});

afterAll(async () => {
  for (const name of databases) await dropDatabase(admin, name);
  await admin.end();
});

describe("migrate", () => {
  it("applies every migration to an empty database, records them, and does nothing when rerun", async () => {
    const sql = await emptyDatabase();
    const files = await migrationFiles();
    expect(await migrate(sql)).toEqual(files.map((f) => f.version));
    expect(await appliedVersions(sql)).toEqual(files.map((f) => f.version));
    const [recorded] = await sql`select name, statements from supabase_migrations.schema_migrations order by version limit 1`;
    expect(recorded?.name).toBe(files[0]?.name);
    expect(recorded?.statements).toEqual([files[0]?.sql]);

    const tables = await sql`select tablename from pg_tables where schemaname = 'public'`;
    expect(tables.map((t) => t.tablename)).toEqual(expect.arrayContaining(TABLES));

    const before = await sql`select count(*)::int as n from pg_indexes where schemaname = 'public'`;
    expect(await migrate(sql)).toEqual([]);
    const after = await sql`select count(*)::int as n from pg_indexes where schemaname = 'public'`;
    expect(after[0]?.n).toBe(before[0]?.n);
    await sql.end();
  });

  it("applies each migration once when two runners start together", async () => {
    const sql = await emptyDatabase();
    const other = adminConnection(databaseUrl(inject("serverUrl"), databases.at(-1) ?? ""));
    const [first, second] = await Promise.all([migrate(sql), migrate(other)]);
    const files = await migrationFiles();
    expect([...(first ?? []), ...(second ?? [])].sort()).toEqual(files.map((f) => f.version));
    await Promise.all([sql.end(), other.end()]);
  });

  it("rolls a failing migration back whole and records nothing for it", async () => {
    const dir = await testTempDir("gap-migrations-");
    await cp(MIGRATIONS_DIR, dir, { recursive: true });
    await writeFile(path.join(dir, "29990101000000_broken.sql"), "create table half_done (id int);\nselect 1 / 0;\n");
    const sql = await emptyDatabase();
    const error = await migrate(sql, { dir }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MigrationError);
    expect((error as Error).message).toMatch(/29990101000000_broken\.sql failed and was rolled back: division by zero/);
    expect(await appliedVersions(sql)).not.toContain("29990101000000");
    const [table] = await sql`select to_regclass('public.half_done') as found`;
    expect(table?.found).toBeNull();
    await sql.end();
  });

  it("npm run db:migrate applies them, then names each optional extension it could not create and what is off", async () => {
    const name = testDatabaseName();
    databases.push(name);
    await createDatabase(admin, name);
    const url = databaseUrl(inject("serverUrl"), name);
    const run = await runScript("migrate", [], { DATABASE_URL: url });
    expect(run).toMatchObject({ code: 0, stderr: "" });
    const files = await migrationFiles();
    expect(run.stdout).toContain(`${files.length} migration(s) applied\n`);
    const notes = run.stdout.split("\n").filter((line) => line.startsWith("note: "));
    const sql = adminConnection(url);
    const missing = await sql<{ name: string }[]>`
      select w.name from unnest(array['pg_stat_statements', 'hypopg', 'vector']) as w (name)
      where not exists (select 1 from pg_extension e where e.extname = w.name)`;
    await sql.end();
    expect(notes.map((line) => /^note: (\w+) is not installed: /.exec(line)?.[1])).toEqual(missing.map((row) => row.name));
    if (!inject("superuser")) {
      expect(notes).toContainEqual(expect.stringMatching(/^note: pg_stat_statements is not installed: role \w+ may not create it/));
      expect(notes).toContainEqual(
        expect.stringMatching(
          /^note: hypopg is not installed: (role \w+ may not create it \(create it as a superuser; on Supabase: Database > Extensions\)|this server does not offer it); index advice is off$/,
        ),
      );
    }
    const again = await runScript("migrate", [], { DATABASE_URL: url });
    expect(again.stdout).toMatch(/^database is up to date\n/);
  });

  it("refuses a misnamed migration file instead of skipping it", async () => {
    const dir = await testTempDir("gap-migrations-");
    await writeFile(path.join(dir, "add_things.sql"), "select 1;");
    await expect(migrationFiles(dir)).rejects.toThrow(/add_things\.sql: migration files are named/);
  });
});

describe("the migrated schema", () => {
  let sql: Pool;
  beforeAll(async () => {
    sql = await emptyDatabase();
    await migrate(sql);
  });
  afterAll(() => sql.end());

  it.each(EXPECTED_INDEXES)("has %s on %s (%s)", async (name, table, columns) => {
    const [index] = await sql<{ table: string; definition: string }[]>`
      select tablename as table, indexdef as definition from pg_indexes where schemaname = 'public' and indexname = ${name}`;
    expect(index?.table).toBe(table);
    expect(index?.definition).toContain(`(${columns})`);
  });

  /** Non-unique indexes whose columns lead another index of the same table, method and predicate. */
  async function redundantIndexes(): Promise<string[]> {
    const rows = await sql`
      with idx as (
        -- int2vector casts to a 0-based array; through text it becomes an ordinary 1-based one.
        select i.indexrelid, i.indrelid, i.indisunique,
               string_to_array(i.indkey::text, ' ')::int[] as keys,
               string_to_array(i.indoption::text, ' ')::int[] as options,
               coalesce(pg_get_expr(i.indpred, i.indrelid), '') as predicate,
               coalesce(pg_get_expr(i.indexprs, i.indrelid), '') as expressions,
               c.relam as method
        from pg_index i
        join pg_class c on c.oid = i.indexrelid
        join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = 'public' and i.indisvalid
      )
      select a.indexrelid::regclass::text as index, b.indexrelid::regclass::text as covered_by
      from idx a
      join idx b on a.indrelid = b.indrelid and a.indexrelid <> b.indexrelid
        and a.method = b.method and a.predicate = b.predicate and a.expressions = b.expressions
      where not a.indisunique
        and cardinality(a.keys) <= cardinality(b.keys)
        and a.keys = b.keys[1:cardinality(a.keys)]
        and a.options = b.options[1:cardinality(a.options)]
      order by 1`;
    return rows.map((row) => `${row.index} < ${row.covered_by}`);
  }

  it("has no index that is a leading prefix of another on the same table (the seed's redundant ones)", async () => {
    expect(await redundantIndexes()).toEqual([]);
    await sql`create index idx_messages_conversation_id on conversation_messages (conversation_id)`;
    expect(await redundantIndexes()).toEqual(["idx_messages_conversation_id < idx_messages_conversation_created"]);
    await sql`drop index idx_messages_conversation_id`;
  });

  it("keeps every table behind row level security, out of reach of Supabase's public API keys", async () => {
    const open = await sql`
      select relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = 'public' and c.relkind = 'r' and not c.relrowsecurity`;
    expect(open).toEqual([]);
  });

  it("enables pg_stat_statements where the server offers it and the role may create it, and says why not otherwise", async () => {
    const [available] = await sql`select count(*)::int as n from pg_available_extensions where name = 'pg_stat_statements'`;
    const [installed] = await sql`select count(*)::int as n from pg_extension where extname = 'pg_stat_statements'`;
    const notes = await missingExtensionNotes(sql);
    if (inject("superuser")) {
      expect(installed?.n).toBe(available?.n);
      if (inject("embedded")) expect(installed?.n).toBe(1);
      expect(notes.filter((note) => note.startsWith("pg_stat_statements"))).toEqual([]);
    } else {
      // A managed owner migrating a database no superuser prepared: pg_stat_statements is not
      // trusted, so it is skipped, and said.
      expect(installed?.n).toBe(0);
      expect(notes).toContainEqual(
        expect.stringMatching(
          /^pg_stat_statements is not installed: role gap_test_owner_\d+ may not create it \(create it as a superuser; on Supabase: Database > Extensions\); statement statistics/,
        ),
      );
    }
  });

  it("adds the embedding column only where pgvector exists, and says so otherwise", async () => {
    const [vector] = await sql`select count(*)::int as n from pg_extension where extname = 'vector'`;
    const [column] = await sql`
      select count(*)::int as n from information_schema.columns
      where table_name = 'knowledge_base_items' and column_name = 'embedding'`;
    expect(column?.n).toBe(vector?.n);
  });

  it("enforces the constraints the data relies on", async () => {
    await expect(sql`insert into agents (organization_id, name, model) values (gen_random_uuid(), 'x', 'gpt-4o')`).rejects.toThrow(/foreign key/);
    const [org] = await sql`insert into organizations (name, slug) values ('Org', 'org-constraints') returning id`;
    await expect(sql`insert into agents (organization_id, name, model, status) values (${org?.id}, 'x', 'gpt-4o', 'bogus')`).rejects.toThrow(
      /check constraint/,
    );
    await expect(sql`insert into agents (organization_id, name, model, config) values (${org?.id}, 'x', 'gpt-4o', '[]')`).rejects.toThrow(/check constraint/);
    const [agent] = await sql`
      insert into agents (organization_id, name, model) values (${org?.id}, 'x', 'gpt-4o') returning updated_at`;
    await new Promise((resolve) => setTimeout(resolve, 5));
    const [updated] = await sql`update agents set name = 'y' where organization_id = ${org?.id} returning updated_at`;
    expect(new Date(updated?.updated_at).getTime()).toBeGreaterThan(new Date(agent?.updated_at).getTime());
  });
});
