import postgres from "postgres";
import type { Pool } from "../../../../lib/db/pool.js";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { connectionSources, connectionUsage } from "../../../../lib/db/inspect/connections.js";
import { seedDemoData } from "../../../../scripts/demo/data.js";
import {
  cacheHitRates,
  invalidIndexes,
  missingForeignKeyIndexes,
  redundantIndexes,
  sequentialScanTables,
  tableCacheHits,
  unusedIndexes,
} from "../../../../lib/db/inspect/indexes.js";
import {
  autovacuumDue,
  notValidConstraints,
  sequencesNearExhaustion,
  tableFreezeAges,
  transactionIdAges,
  vacuumStats,
} from "../../../../lib/db/inspect/maintenance.js";
import { probed } from "../../../../lib/db/inspect/probe.js";
import { blockedSessions, longRunningQueries, runningQueries } from "../../../../lib/db/inspect/queries.js";
import { databaseGrowth, databaseSizeBytes, indexBloat, relationSizes, tableBloat } from "../../../../lib/db/inspect/space.js";
import { slowStatements, statementsAvailability, topStatements } from "../../../../lib/db/inspect/statements.js";
import { APPLICATION_NAME, directDb } from "../../../../lib/db/pool.js";
import { TEST_DATABASE_URL } from "../../../harness/file-database.js";
import { blockedSession, type BlockedSession } from "../../../harness/locks.js";

const sql = () => directDb();

/**
 * Runs a workload on a connection of its own and closes it: a backend that exits flushes its
 * table statistics at once (PostgreSQL 15 otherwise waits for an idle second).
 */
async function onOwnConnection(work: (client: Pool) => Promise<unknown>): Promise<void> {
  const client = postgres(TEST_DATABASE_URL, { max: 1, onnotice: () => undefined });
  await work(client);
  await client.end();
  await new Promise((resolve) => setTimeout(resolve, 100));
}

/** Tables and indexes this file plants are named inspect_*; the rest is the platform's. */
const platformOnly = <T extends { table: string | null }>(rows: T[]): T[] => rows.filter((row) => !row.table?.startsWith("inspect_"));

describe("the platform's own schema", () => {
  beforeAll(async () => {
    // Demo data large enough that the messages table and its indexes pass the bloat floor
    // (1 MiB), written and then vacuumed on connections that exit, so their statistics are in.
    await onOwnConnection((client) =>
      seedDemoData(client, { organizations: 3, usersPerOrganization: 4, agents: 12, conversations: 400, messages: 40_000 }, { reset: true }),
    );
    await onOwnConnection(async (client) => {
      await client`vacuum analyze`;
      await client`select count(*) from conversation_messages`;
    });
  });

  it("has no redundant, invalid or missing foreign-key index", async () => {
    expect(await redundantIndexes(sql())).toEqual([]);
    expect(await invalidIndexes(sql())).toEqual([]);
    expect(await missingForeignKeyIndexes(sql())).toEqual([]);
  });

  it("has no bloat, NOT VALID constraint, sequence near its column's end, table due for autovacuum or near its freeze threshold", async () => {
    const messages = await relationSizes(sql(), { limit: 500 });
    expect(
      messages.filter((r) => ["conversation_messages", "idx_messages_conversation_created"].includes(r.name)).every((r) => r.sizeBytes > 1024 * 1024),
    ).toBe(true);
    expect(platformOnly(await tableBloat(sql()))).toEqual([]);
    expect(platformOnly(await indexBloat(sql()))).toEqual([]);
    expect(platformOnly(await notValidConstraints(sql()))).toEqual([]);
    expect(platformOnly(await sequencesNearExhaustion(sql()))).toEqual([]);
    expect(platformOnly(await autovacuumDue(sql()))).toEqual([]);
    expect(platformOnly(await tableFreezeAges(sql(), { minFreezeRatio: 0.5 }))).toEqual([]);
    expect(platformOnly(await tableCacheHits(sql()))).toEqual([]);
  });

  it("flags the seed's two single-column indexes as redundant prefixes of composites, if created", async () => {
    await sql()`create index idx_messages_conversation_id on conversation_messages (conversation_id)`;
    await sql()`create index idx_analytics_events_organization_id on analytics_events (organization_id)`;
    const found = await redundantIndexes(sql());
    await sql()`drop index idx_messages_conversation_id, idx_analytics_events_organization_id`;
    expect(found.map((r) => `${r.index} < ${r.coveredBy}`)).toEqual([
      "idx_messages_conversation_id < idx_messages_conversation_created",
      expect.stringMatching(/^idx_analytics_events_organization_id < idx_analytics_events_(org_created|event_type)$/),
    ]);
  });
});

describe("index analysis", () => {
  beforeAll(async () => {
    await sql()`create table inspect_parent (id int primary key)`;
    await sql()`create table inspect_child (id int primary key, parent_id int references inspect_parent (id), a int, b int)`;
    await sql()`insert into inspect_parent select g from generate_series(1, 100) g`;
    await sql()`insert into inspect_child select g, 1 + g % 100, g % 7, g from generate_series(1, 20000) g`;
    await sql()`create index inspect_child_a on inspect_child (a)`;
    await sql()`create index inspect_child_a_b on inspect_child (a, b)`;
    await sql()`analyze inspect_child`;
  });

  it("finds the index whose columns lead another one", async () => {
    const found = await redundantIndexes(sql());
    expect(found).toEqual([expect.objectContaining({ table: "inspect_child", index: "inspect_child_a", coveredBy: "inspect_child_a_b" })]);
  });

  it("reports one of an identical pair, never both: the newer, unless only the newer backs a constraint", async () => {
    await sql()`create table inspect_twins (id int, a int, b text, c int)`;
    await sql()`create index inspect_twins_a_first on inspect_twins (a)`;
    await sql()`create index inspect_twins_a_second on inspect_twins (a)`;
    await sql()`create unique index inspect_twins_id_plain on inspect_twins (id)`;
    await sql()`alter table inspect_twins add constraint inspect_twins_id_key unique (id)`;
    // The same key carrying a column along covers the plain one; another operator class does not.
    await sql()`create index inspect_twins_c on inspect_twins (c)`;
    await sql()`create index inspect_twins_c_with_b on inspect_twins (c) include (b)`;
    await sql()`create index inspect_twins_b_pattern on inspect_twins (b text_pattern_ops)`;
    await sql()`create index inspect_twins_b on inspect_twins (b)`;
    const found = (await redundantIndexes(sql())).filter((r) => r.table === "inspect_twins");
    await sql()`drop table inspect_twins`;
    expect(found.map((r) => `${r.index} < ${r.coveredBy}`).sort()).toEqual([
      "inspect_twins_a_second < inspect_twins_a_first",
      "inspect_twins_c < inspect_twins_c_with_b",
      "inspect_twins_id_plain < inspect_twins_id_key",
    ]);
  });

  it("names, for an index covered several ways, an index to keep, never another one to drop", async () => {
    await sql()`create table inspect_triplets (a int, b int)`;
    for (const name of ["inspect_triplets_a_1", "inspect_triplets_a_2", "inspect_triplets_a_3"])
      await sql()`create index ${sql()(name)} on inspect_triplets (a)`;
    await sql()`create index inspect_triplets_a_b_1 on inspect_triplets (a, b)`;
    await sql()`create index inspect_triplets_a_b_2 on inspect_triplets (a, b)`;
    const found = (await redundantIndexes(sql())).filter((r) => r.table === "inspect_triplets");
    await sql()`drop table inspect_triplets`;
    expect(found.map((r) => `${r.index} < ${r.coveredBy}`)).toEqual([
      "inspect_triplets_a_1 < inspect_triplets_a_b_1",
      "inspect_triplets_a_2 < inspect_triplets_a_b_1",
      "inspect_triplets_a_3 < inspect_triplets_a_b_1",
      "inspect_triplets_a_b_2 < inspect_triplets_a_b_1",
    ]);
  });

  it("finds unused indexes above a size floor, never unique ones", async () => {
    const unused = await unusedIndexes(sql(), { maxScans: 0, minSizeBytes: 0 });
    const names = unused.map((u) => u.index);
    expect(names).toEqual(expect.arrayContaining(["inspect_child_a", "inspect_child_a_b"]));
    expect(names).not.toContain("inspect_child_pkey");
    expect(await unusedIndexes(sql(), { maxScans: 0, minSizeBytes: 1024 ** 3 })).toEqual([]);
  });

  it("finds a foreign key no index leads with", async () => {
    expect(await missingForeignKeyIndexes(sql())).toEqual([
      { schema: "public", table: "inspect_child", constraint: "inspect_child_parent_id_fkey", columns: ["parent_id"], references: "inspect_parent" },
    ]);
  });

  it("finds tables read mostly by sequential scans", async () => {
    await onOwnConnection(async (client) => {
      for (let i = 0; i < 3; i++) await client`select count(*) from inspect_child where b > 0`;
    });
    const tables = await sequentialScanTables(sql(), { minRows: 10_000 });
    expect(tables.map((t) => t.table)).toContain("inspect_child");
  });

  it("reports cache hit rates between 0 and 1", async () => {
    await onOwnConnection((client) => client`select count(*) from inspect_child where a = 3`);
    const rates = await cacheHitRates(sql());
    expect(rates.table).toBeGreaterThan(0);
    expect(rates.table).toBeLessThanOrEqual(1);
  });

  it("finds a table whose reads miss shared buffers", async () => {
    // One row a page, a quarter more pages than a quarter of shared_buffers: a sequential scan that
    // large reads through a small ring of buffers, so most of its blocks come from outside them.
    const [{ pages } = { pages: 0 }] = await sql()<{ pages: number }[]>`select setting::int as pages from pg_settings where name = 'shared_buffers'`;
    const rows = Math.ceil((pages / 4) * 1.25);
    await onOwnConnection(async (client) => {
      await client`create table inspect_cold (id int, body text) with (autovacuum_enabled = false)`;
      await client`alter table inspect_cold alter column body set storage plain`;
      await client`insert into inspect_cold select g, repeat('x', 7000) from generate_series(1, ${rows}) g`;
      await client`select count(*) from inspect_cold where body like 'y%'`;
    });
    const cold = (await tableCacheHits(sql())).find((t) => t.table === "inspect_cold");
    await sql()`drop table inspect_cold`;
    expect(cold?.blocksRead).toBeGreaterThanOrEqual(rows);
    expect(cold?.hitRatio).toBeLessThan(0.9);
    expect(cold?.tableHitRatio).toBe(cold?.hitRatio);
  });
});

describe("connections and queries", () => {
  let session: BlockedSession;
  beforeAll(async () => {
    session = await blockedSession("inspect_locked", { names: ["inspect-holder", "inspect-waiter"] });
  });
  afterAll(() => session.release());

  it("builds the blocking tree from pg_blocking_pids, relation locks included", async () => {
    const [holderPid] = await sql()`select pid from pg_stat_activity where datname = current_database() and application_name = 'inspect-holder'`;
    const [waiterPid] = await sql()`select pid from pg_stat_activity where datname = current_database() and application_name = 'inspect-waiter'`;
    const sessions = await blockedSessions(sql());
    expect(sessions).toEqual([
      expect.objectContaining({ pid: waiterPid?.pid, blockedBy: [holderPid?.pid], rootBlocker: holderPid?.pid, waitEvent: "Lock:relation" }),
    ]);
    expect(sessions[0]?.lockWaitSeconds).toBeGreaterThan(0.2);
    expect(sessions[0]?.query).toContain("inspect_locked");
  });

  it("lists running and long-running queries by the threshold given", async () => {
    const running = await runningQueries(sql());
    expect(running.map((q) => q.application)).toEqual(expect.arrayContaining(["inspect-holder", "inspect-waiter"]));
    expect(await longRunningQueries(sql(), { thresholdSeconds: 3600 })).toEqual([]);
    expect((await longRunningQueries(sql(), { thresholdSeconds: 0.1 })).length).toBeGreaterThanOrEqual(2);
  });

  it("counts connections by state and source against the usable slots", async () => {
    const usage = await connectionUsage(sql());
    expect(usage.total).toBeGreaterThanOrEqual(3);
    expect(usage.waiting).toBeGreaterThanOrEqual(1);
    expect(usage.idleInTransaction + usage.active).toBeGreaterThanOrEqual(2);
    expect(usage.usageRatio).toBeCloseTo(usage.total / usage.usable, 3);
    const sources = await connectionSources(sql());
    expect(sources.map((s) => s.application)).toEqual(expect.arrayContaining([APPLICATION_NAME, "inspect-holder"]));
  });
});

describe("statements", () => {
  it.skipIf(!inject("embedded"))("finds a slow statement in pg_stat_statements by the thresholds given", async () => {
    const availability = await statementsAvailability(sql());
    expect(availability.available).toBe(true);
    if (!availability.available) return;
    // pg_stat_statements replaces literals with $n: the probe is known by its alias.
    for (let i = 0; i < 5; i++) await sql()`select pg_sleep(0.025) from (select 1) as inspect_slow_probe`;
    const slow = await slowStatements(sql(), availability.schema, { minCalls: 5, minMeanMs: 20 });
    const probe = slow.find((s) => s.query.includes("inspect_slow_probe"));
    expect(probe).toMatchObject({ calls: 5 });
    expect(probe?.meanMs).toBeGreaterThanOrEqual(20);
    expect(await slowStatements(sql(), availability.schema)).not.toContainEqual(expect.objectContaining({ queryId: probe?.queryId }));
    const top = await topStatements(sql(), availability.schema, { order: "total", limit: 100 });
    const shares = top.reduce((sum, s) => sum + s.shareOfTotal, 0);
    expect(shares).toBeGreaterThan(0);
    expect(shares).toBeLessThanOrEqual(1.001);
  });
});

describe("space and maintenance", () => {
  it("reports sizes, dead rows, transaction-id age and sequences near exhaustion", async () => {
    expect(await databaseSizeBytes(sql())).toBeGreaterThan(1_000_000);
    const sizes = await relationSizes(sql(), { limit: 500 });
    expect(sizes.map((s) => s.name)).toContain("conversation_messages");
    expect(sizes.every((s) => s.schema !== "pg_catalog" && s.schema !== "supabase_migrations")).toBe(true);

    await onOwnConnection(async (client) => {
      // Autovacuum would be within its rights to clear the dead rows before they are counted.
      await client`create table inspect_dead (id int) with (autovacuum_enabled = false)`;
      await client`insert into inspect_dead select generate_series(1, 1000)`;
      await client`delete from inspect_dead where id <= 500`;
    });
    // The exited backend's statistics reach the shared counters a moment later under load.
    await expect.poll(async () => (await vacuumStats(sql(), { limit: 500 })).find((t) => t.table === "inspect_dead")?.deadRows, { timeout: 5000 }).toBe(500);

    const [ages] = await transactionIdAges(sql());
    expect(ages?.wraparoundRatio).toBeGreaterThanOrEqual(0);

    await sql()`create sequence inspect_nearly_done maxvalue 100`;
    await sql()`select setval('inspect_nearly_done', 90)`;
    expect(await sequencesNearExhaustion(sql())).toEqual([
      expect.objectContaining({ sequence: "inspect_nearly_done", lastValue: 90, maxValue: 100, usedRatio: 0.9 }),
    ]);
  });

  it("judges a sequence against the column it feeds: a bigint sequence behind an integer column, an identity column", async () => {
    await sql()`create table inspect_narrowed (id bigserial primary key)`;
    await sql()`alter table inspect_narrowed alter column id type integer`;
    await sql()`select setval('inspect_narrowed_id_seq', 2000000000)`;
    await sql()`create table inspect_small_identity (id smallint generated always as identity)`;
    await sql()`select setval('inspect_small_identity_id_seq', 30000)`;
    await sql()`create sequence inspect_roomy`;
    await sql()`create table inspect_wide (id bigint default nextval('inspect_roomy'))`;
    await sql()`select setval('inspect_roomy', 2000000000)`;
    const found = await sequencesNearExhaustion(sql());
    expect(found.filter((s) => s.table !== null)).toEqual([
      {
        schema: "public",
        sequence: "inspect_narrowed_id_seq",
        table: "inspect_narrowed",
        column: "id",
        columnType: "integer",
        lastValue: 2e9,
        maxValue: 2147483647,
        usedRatio: 0.931323,
      },
      {
        schema: "public",
        sequence: "inspect_small_identity_id_seq",
        table: "inspect_small_identity",
        column: "id",
        columnType: "smallint",
        lastValue: 30000,
        maxValue: 32767,
        usedRatio: 0.915555,
      },
    ]);
  });

  it("estimates the bloat VACUUM leaves behind in a table and its index, where dead-row counts see nothing", async () => {
    await onOwnConnection(async (client) => {
      await client`create table inspect_bloated (id int primary key, body text) with (autovacuum_enabled = false)`;
      await client`insert into inspect_bloated select g, repeat('x', 120) from generate_series(1, 200000) g`;
      // Nine rows in ten deleted all over the table: no page empties, so VACUUM can return none.
      await client`delete from inspect_bloated where id % 10 <> 0`;
    });
    await onOwnConnection((client) => client`vacuum analyze inspect_bloated`);
    const vacuumed = (await vacuumStats(sql(), { limit: 500 })).find((t) => t.table === "inspect_bloated");
    expect(vacuumed?.deadRows).toBe(0);
    const [table] = (await tableBloat(sql())).filter((b) => b.table === "inspect_bloated");
    expect(table?.bloatRatio).toBeGreaterThan(0.8);
    expect(table?.bloatBytes).toBeGreaterThan(20 * 1024 * 1024);
    expect(table?.sizeBytes).toBeCloseTo((table?.bloatBytes ?? 0) + (table?.expectedBytes ?? 0), -1);
    const [index] = (await indexBloat(sql())).filter((b) => b.table === "inspect_bloated");
    expect(index).toMatchObject({ index: "inspect_bloated_pkey" });
    expect(index?.bloatRatio).toBeGreaterThan(0.8);
    // Thresholds are the caller's: a floor above the waste hides it.
    expect((await tableBloat(sql(), { minBytes: 1024 ** 3 })).filter((b) => b.table === "inspect_bloated")).toEqual([]);
    await sql()`drop table inspect_bloated`;
  });

  it("lists CHECK and FOREIGN KEY constraints added NOT VALID until they are validated", async () => {
    await sql()`create table inspect_unchecked (id int primary key, parent_id int, amount int)`;
    await sql()`alter table inspect_unchecked add constraint inspect_unchecked_amount check (amount >= 0) not valid`;
    await sql()`alter table inspect_unchecked add constraint inspect_unchecked_parent foreign key (parent_id) references inspect_parent (id) not valid`;
    expect(await notValidConstraints(sql())).toEqual([
      { schema: "public", table: "inspect_unchecked", constraint: "inspect_unchecked_amount", kind: "check", definition: "CHECK ((amount >= 0)) NOT VALID" },
      {
        schema: "public",
        table: "inspect_unchecked",
        constraint: "inspect_unchecked_parent",
        kind: "foreign key",
        definition: "FOREIGN KEY (parent_id) REFERENCES inspect_parent(id) NOT VALID",
      },
    ]);
    await sql()`alter table inspect_unchecked validate constraint inspect_unchecked_amount`;
    expect((await notValidConstraints(sql())).map((c) => c.constraint)).toEqual(["inspect_unchecked_parent"]);
  });

  it("finds the tables autovacuum is due to visit by its own thresholds, the tables' own settings applied", async () => {
    await onOwnConnection(async (client) => {
      for (const table of ["inspect_due", "inspect_patient"]) {
        const options =
          table === "inspect_due"
            ? client`autovacuum_enabled = false`
            : client`autovacuum_enabled = false, autovacuum_vacuum_threshold = 100000, autovacuum_analyze_threshold = 100000, autovacuum_vacuum_insert_threshold = -1`;
        await client`create table ${client(table)} (id int) with (${options})`;
        await client`insert into ${client(table)} select generate_series(1, 1000)`;
        await client`delete from ${client(table)} where id <= 500`;
      }
    });
    const due = await autovacuumDue(sql());
    expect(due.find((t) => t.table === "inspect_patient")).toBeUndefined();
    // Never vacuumed nor analyzed, the table counts as empty: 50 dead rows or 1000 inserted trigger a vacuum, 50 changes an analyze.
    expect(due.find((t) => t.table === "inspect_due")).toMatchObject({
      due: ["vacuum", "analyze"],
      autovacuumEnabled: false,
      autovacuumOffFor: expect.arrayContaining(["table"]) as unknown,
      deadRows: 500,
      vacuumThreshold: 50,
      insertedSinceVacuum: 1000,
      insertThreshold: 1000,
      modifiedSinceAnalyze: 1500,
      analyzeThreshold: 50,
    });
  });

  it("measures each table's transaction-id age against its own autovacuum freeze threshold", async () => {
    await sql()`create table inspect_freezing (id int) with (autovacuum_freeze_max_age = 100000)`;
    await sql()`insert into inspect_freezing values (1)`;
    // Held open, this lock keeps an anti-wraparound autovacuum from freezing the table under the test.
    let release = (): void => undefined;
    const released = new Promise<void>((resolve) => (release = resolve));
    let locked = (): void => undefined;
    const taken = new Promise<void>((resolve) => (locked = resolve));
    const holder = postgres(TEST_DATABASE_URL, { max: 1, onnotice: () => undefined });
    const held = holder.begin(async (tx) => {
      await tx`lock table inspect_freezing in share update exclusive mode`;
      locked();
      await released;
    });
    await taken;
    try {
      // 110,000 transaction ids spent: each subtransaction that writes takes one.
      await sql()`
        do $$
        begin
          create temporary table inspect_burn (n int);
          for i in 1..110000 loop
            begin
              insert into inspect_burn values (i);
            exception when others then null;
            end;
          end loop;
          drop table inspect_burn;
        end $$`;
      const [oldest] = await tableFreezeAges(sql(), { limit: 1 });
      expect(oldest).toMatchObject({ schema: "public", table: "inspect_freezing", freezeMaxAge: 100000 });
      expect(oldest?.age).toBeGreaterThan(110000);
      expect(oldest?.freezeRatio).toBeGreaterThanOrEqual(1.1);
      const others = await tableFreezeAges(sql(), { limit: 500 });
      expect(others.find((t) => t.table === "conversation_messages")?.freezeMaxAge).toBe(200_000_000);
      expect((await tableFreezeAges(sql(), { minFreezeRatio: 1 })).map((t) => t.table)).toEqual(["inspect_freezing"]);
    } finally {
      release();
      await held;
      await holder.end();
    }
  });

  it("computes growth per day from the stats snapshots, and nothing from fewer than two", async () => {
    expect(await databaseGrowth(sql())).toBeUndefined();
    await sql()`
      insert into ops.db_stats_snapshots (slot, taken_at, connections_by_state, database_size_bytes, blocked_sessions, longest_transaction_seconds, xid_age)
      values
        (now() - interval '2 days', now() - interval '2 days', '{}', 1000000, 0, 0, 1),
        (now(), now(), '{}', 3000000, 0, 0, 1)`;
    expect(await databaseGrowth(sql())).toMatchObject({ fromBytes: 1_000_000, toBytes: 3_000_000, bytesPerDay: 1_000_000 });
  });

  it("runs each probe read-only under a statement timeout", async () => {
    await expect(probed(sql(), (tx) => tx`select pg_sleep(2)`, 100)).rejects.toThrow(/statement timeout/);
    await expect(probed(sql(), (tx) => tx`create table inspect_never (id int)`)).rejects.toThrow(/read-only/);
  });
});
