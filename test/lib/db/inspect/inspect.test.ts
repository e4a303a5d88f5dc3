import postgres from "postgres";
import type { Pool } from "../../../../lib/db/pool.js";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { connectionSources, connectionUsage } from "../../../../lib/db/inspect/connections.js";
import {
  cacheHitRates,
  invalidIndexes,
  missingForeignKeyIndexes,
  redundantIndexes,
  sequentialScanTables,
  unusedIndexes,
} from "../../../../lib/db/inspect/indexes.js";
import { sequencesNearExhaustion, transactionIdAges, vacuumStats } from "../../../../lib/db/inspect/maintenance.js";
import { probed } from "../../../../lib/db/inspect/probe.js";
import { blockedSessions, longRunningQueries, runningQueries } from "../../../../lib/db/inspect/queries.js";
import { databaseGrowth, databaseSizeBytes, relationSizes } from "../../../../lib/db/inspect/space.js";
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

describe("the platform's own schema", () => {
  it("has no redundant, invalid or missing foreign-key index", async () => {
    expect(await redundantIndexes(sql())).toEqual([]);
    expect(await invalidIndexes(sql())).toEqual([]);
    expect(await missingForeignKeyIndexes(sql())).toEqual([]);
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
    expect(found).toEqual([
      expect.objectContaining({ table: "inspect_child", index: "inspect_child_a", coveredBy: "inspect_child_a_b" }),
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
});

describe("connections and queries", () => {
  let session: BlockedSession;
  beforeAll(async () => {
    session = await blockedSession("inspect_locked", { names: ["inspect-holder", "inspect-waiter"] });
  });
  afterAll(() => session.release());

  it("builds the blocking tree from pg_blocking_pids, relation locks included", async () => {
    const [holderPid] = await sql()`select pid from pg_stat_activity where application_name = 'inspect-holder'`;
    const [waiterPid] = await sql()`select pid from pg_stat_activity where application_name = 'inspect-waiter'`;
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
      await client`create table inspect_dead (id int)`;
      await client`insert into inspect_dead select generate_series(1, 1000)`;
      await client`delete from inspect_dead where id <= 500`;
    });
    const dead = (await vacuumStats(sql(), { limit: 500 })).find((t) => t.table === "inspect_dead");
    expect(dead?.deadRows).toBe(500);

    const [ages] = await transactionIdAges(sql());
    expect(ages?.wraparoundRatio).toBeGreaterThanOrEqual(0);

    await sql()`create sequence inspect_nearly_done maxvalue 100`;
    await sql()`select setval('inspect_nearly_done', 90)`;
    expect(await sequencesNearExhaustion(sql())).toEqual([
      expect.objectContaining({ sequence: "inspect_nearly_done", lastValue: 90, maxValue: 100, usedRatio: 0.9 }),
    ]);
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
