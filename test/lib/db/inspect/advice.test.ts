/**
 * Index advice with hypopg, on a real workload: the advised index is built and then used,
 * and the advice is gone once it exists.
 */
import type { Pool } from "../../../../lib/db/pool.js";
import postgres from "postgres";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { inspectionReport } from "../../../../functions/inspection-report.js";
import { adviceCandidates, hypopgAvailability, indexAdvice, type AdviceResult } from "../../../../lib/db/inspect/advice.js";
import { probed } from "../../../../lib/db/inspect/probe.js";
import { statementsAvailability } from "../../../../lib/db/inspect/statements.js";
import { directDb } from "../../../../lib/db/pool.js";
import { superuserDb, TEST_DATABASE_URL } from "../../../harness/file-database.js";
import { extensionOffered } from "../../../harness/services.js";

const sql = () => directDb();
// pg_stat_statements needs preloading: the embedded server does it, a TEST_DATABASE_URL server may not.
const withStatements = inject("embedded");
const withHypopg = withStatements && (await extensionOffered(sql(), "hypopg", "Debian: apt-get install postgresql-15-hypopg"));

/** Runs a statement `times` times on a connection of its own, as an application would. */
async function workload(times: number, run: (client: Pool) => Promise<unknown>): Promise<void> {
  const client = postgres(TEST_DATABASE_URL, { max: 1, prepare: false, onnotice: () => undefined });
  for (let i = 0; i < times; i++) await run(client);
  await client.end();
}

/** The advice for this database's statements called at least 5 times, checked to leave nothing behind. */
async function advice(): Promise<AdviceResult> {
  return probed(sql(), async (tx) => {
    const hypopg = await hypopgAvailability(tx);
    const statements = await statementsAvailability(tx);
    if (!hypopg.available || !statements.available) throw new Error("hypopg and pg_stat_statements are both needed here");
    const candidates = await adviceCandidates(tx, statements.schema, { minCalls: 5, minMeanMs: 0, limit: 50 });
    const result = await indexAdvice(tx, hypopg.schema, candidates);
    const [left] = await tx<{ hypothetical: number; prepared: number }[]>`
      select
        (select count(*) from ${tx(hypopg.schema)}.hypopg_list_indexes)::int as hypothetical,
        (select count(*) from pg_prepared_statements where name like 'gap\_%')::int as prepared`;
    expect(left).toEqual({ hypothetical: 0, prepared: 0 });
    return result;
  });
}

const ordersQuery = "from advice_orders where customer_id = $1 and status = $2 order by created_at desc limit $3";

describe.skipIf(!withHypopg)("index advice with hypopg", () => {
  beforeAll(async () => {
    await sql()`
      create table advice_orders (
        id bigint generated always as identity primary key,
        customer_id int not null,
        status text not null,
        created_at timestamptz not null,
        note text
      )`;
    await sql()`
      insert into advice_orders (customer_id, status, created_at, note)
      select g % 5000, (array['open', 'paid', 'shipped', 'closed'])[1 + g % 4], now() - g * interval '1 minute', md5(g::text)
      from generate_series(1, 60000) g`;
    await sql()`create table advice_gone (id int primary key, tag int)`;
    await sql()`analyze advice_orders`;
    await workload(
      6,
      (c) => c`select id, status, created_at from advice_orders where customer_id = ${7} and status = ${"paid"} order by created_at desc limit 20`,
    );
    await workload(6, (c) => c`select note from advice_orders where id = ${42}`);
    // Normalized, `interval '30 days'` becomes `interval $2`, which is planned as a cast.
    await workload(6, (c) => c`select count(*) from advice_orders where customer_id = ${7} and created_at > now() - interval '30 days'`);
    // A statement whose table is dropped afterwards can no longer be planned.
    await workload(6, (c) => c`select id from advice_gone where tag = ${3}`);
    await sql()`drop table advice_gone`;
  });

  it("advises the index that cuts a slow statement's plan cost by half, with the statement to build it", async () => {
    const { advice: found } = await advice();
    const orders = found.filter((a) => a.query.includes(ordersQuery));
    expect(orders).toHaveLength(1);
    const [advised] = orders;
    expect(advised).toMatchObject({ table: "public.advice_orders", calls: 6 });
    // Equal costs either way round: the column with more distinct values leads.
    expect(advised?.columns).toEqual(["customer_id", "status", "created_at"]);
    expect(advised?.costCut).toBeGreaterThanOrEqual(0.5);
    expect(advised?.costAfter).toBeLessThanOrEqual((advised?.costBefore ?? 0) / 2);
    expect(advised?.estimatedSizeBytes).toBeGreaterThan(0);
    expect(advised?.createStatement).toBe(
      `CREATE INDEX CONCURRENTLY idx_advice_orders_${advised?.columns.join("_")} ON public.advice_orders (${advised?.columns.join(", ")})`,
    );
    // A lookup by primary key is served already: no advice for it.
    expect(found.filter((a) => a.query.includes("from advice_orders where id = $1"))).toEqual([]);
  });

  it("lists a statement it cannot plan as skipped, with the reason, and goes on", async () => {
    const { advice: found, skipped } = await advice();
    expect(skipped).toEqual([expect.objectContaining({ query: expect.stringContaining("advice_gone"), reason: 'relation "advice_gone" does not exist' })]);
    expect(found.some((a) => a.query.includes(ordersQuery))).toBe(true);
    expect(found.filter((a) => a.query.includes("interval $2")).map((a) => a.columns[0])).toEqual(["customer_id"]);
  });

  it("advises nothing more for the statement once the advised index is built, and the plan uses it", async () => {
    const [advised] = (await advice()).advice.filter((a) => a.query.includes(ordersQuery));
    if (!advised) throw new Error("no advice to build");
    await sql().unsafe(advised.createStatement);
    await sql()`analyze advice_orders`;
    const indexName = advised.createStatement.split(" ")[3] ?? "";
    const plan = await sql().begin(async (tx) => {
      await tx`set local plan_cache_mode = force_generic_plan`;
      await tx.unsafe(`prepare orders_by_customer as select id, status, created_at ${ordersQuery}`);
      const rows = await tx.unsafe<{ "QUERY PLAN": string }[]>("explain execute orders_by_customer(7, 'paid', 20)");
      await tx.unsafe("deallocate orders_by_customer");
      return rows.map((row) => row["QUERY PLAN"]).join("\n");
    });
    expect(plan).toMatch(new RegExp(`Index Scan (Backward )?using ${indexName} on advice_orders`));
    expect((await advice()).advice.filter((a) => a.query.includes(ordersQuery))).toEqual([]);
    await sql().unsafe(`drop index ${indexName}`);
  });
});

describe("index advice without hypopg", () => {
  it("says so and skips", async () => {
    // Dropping an extension a superuser created takes its owner or a superuser; the managed
    // owner cannot, which is the point of that setup: the test takes away what the platform may not.
    await superuserDb()`drop extension if exists hypopg`;
    const { advice } = await inspectionReport(sql(), ["advice"]);
    expect(advice).toEqual({
      tables: {},
      notes: [expect.stringMatching(/^index advice skipped: (hypopg is offered by this server but not installed|the hypopg extension is not available)/)],
    });
  });
});
