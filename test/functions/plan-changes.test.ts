/**
 * Plan changes caught by the stats snapshots: each snapshot records the top statements' plan
 * fingerprints; dropping the index a statement's plan reads flips the plan, which the next
 * snapshot records as a plan change, tied to the regression it causes (alone, and when it
 * coincides with a deploy), and shown on the statement's page with both plans.
 */
import postgres from "postgres";
import { beforeAll, beforeEach, describe, expect, inject, it } from "vitest";
import { statementView } from "../../functions/dashboard.js";
import { SNAPSHOT_INTERVAL_MS, takeStatsSnapshot, type SnapshotResult } from "../../functions/stats-snapshot.js";
import { planChanges } from "../../lib/data/statement-plans.js";
import { statementRegressions } from "../../lib/db/inspect/regressions.js";
import { planDifference, planFingerprint } from "../../lib/db/inspect/plan-fingerprints.js";
import { directDb, type Pool } from "../../lib/db/pool.js";
import { useConfig } from "../harness/config.js";
import { quietConsole } from "../harness/console.js";
import { TEST_DATABASE_URL } from "../harness/file-database.js";

const sql = () => directDb();
// pg_stat_statements needs preloading: the embedded server does it, a TEST_DATABASE_URL server may not.
const withStatements = inject("embedded");

const STATEMENT = "select sum(total) from pc_orders where customer_id = $1";

async function workload(times: number): Promise<void> {
  const client: Pool = postgres(TEST_DATABASE_URL, { max: 1, prepare: false, onnotice: () => undefined });
  for (let i = 0; i < times; i++) await client`select sum(total) from pc_orders where customer_id = ${i * 13}`;
  await client.end();
}

function taken(result: SnapshotResult): Extract<SnapshotResult, { status: "taken" }> {
  if (result.status !== "taken") throw new Error("expected a snapshot");
  return result;
}

describe("plan fingerprints", () => {
  it("hash the plan's shape, not its costs: the same shape with other estimates is the same fingerprint", () => {
    const scan = (cost: number, index: string) => ({
      "Node Type": "Aggregate",
      Strategy: "Plain",
      "Total Cost": cost,
      Plans: [{ "Node Type": "Index Scan", "Relation Name": "t", Schema: "public", "Index Name": index, "Plan Rows": cost * 10 }],
    });
    const a = planFingerprint("1", scan(10, "idx_a"));
    expect(planFingerprint("1", scan(99, "idx_a")).fingerprint).toBe(a.fingerprint);
    expect(planFingerprint("1", scan(10, "idx_b")).fingerprint).not.toBe(a.fingerprint);
    expect(a).toMatchObject({ summary: "Index Scan using idx_a on public.t", plan: "Aggregate\n  ->  Index Scan using idx_a on public.t" });
  });

  it("say how two plans differ: their scans, or where those are the same, the nodes only one has", () => {
    const join = (kind: string) =>
      planFingerprint("1", {
        "Node Type": kind,
        Plans: [
          { "Node Type": "Seq Scan", "Relation Name": "a", Schema: "public" },
          { "Node Type": "Seq Scan", "Relation Name": "b", Schema: "public" },
        ],
      });
    expect(planDifference(join("Hash Join"), join("Nested Loop"))).toEqual({ from: "Hash Join", to: "Nested Loop" });
    const scan = (node: string, index?: string) =>
      planFingerprint("1", { "Node Type": node, "Relation Name": "t", Schema: "public", ...(index ? { "Index Name": index } : {}) });
    expect(planDifference(scan("Index Scan", "idx"), scan("Seq Scan"))).toEqual({ from: "Index Scan using idx on public.t", to: "Seq Scan on public.t" });
  });
});

describe.skipIf(!withStatements)("plan changes caught by the snapshots", () => {
  let queryId: string;
  let flipped: Extract<SnapshotResult, { status: "taken" }>;

  beforeAll(async () => {
    await sql()`create table pc_orders (id bigint generated always as identity primary key, customer_id int not null, total int not null)`;
    await sql()`insert into pc_orders (customer_id, total) select g % 50000, g % 1000 from generate_series(1, 600000) g`;
    await sql()`create index pc_orders_customer on pc_orders (customer_id)`;
    await sql()`analyze pc_orders`;
    quietConsole("log", "error");
    const base = Date.now();
    const at = (k: number) => new Date(base + k * SNAPSHOT_INTERVAL_MS);
    await useConfig({ VERCEL_GIT_COMMIT_SHA: "v1-before" });
    await workload(20);
    taken(await takeStatsSnapshot({ at: at(1) }));
    await workload(20);
    const steady = taken(await takeStatsSnapshot({ at: at(2) }));
    expect(steady.plans.changed).toEqual([]);
    // The first snapshot is the counters' baseline; the deploy and the plan flip land in the same snapshot.
    await useConfig({ VERCEL_GIT_COMMIT_SHA: "v2-after" });
    await sql()`drop index pc_orders_customer`;
    await workload(20);
    flipped = taken(await takeStatsSnapshot({ at: at(3) }));
    const [row] = await sql()<{ queryId: string }[]>`select queryid::text as "queryId" from ops.query_texts where query like ${`${STATEMENT}%`}`;
    queryId = row?.queryId ?? "";
  }, 120_000);
  beforeEach(() => quietConsole("log", "error"));

  it("records the top statements' fingerprints each snapshot, and a forced plan flip as a plan change", async () => {
    expect(flipped.plans.statements).toBeGreaterThan(0);
    expect(flipped.plans.error).toBeUndefined();
    expect(flipped.plans.changed).toEqual([
      { queryId, from: expect.stringContaining("using pc_orders_customer") as string, to: expect.stringMatching(/Seq Scan on public\.pc_orders/) as string },
    ]);
    const [stored] = await sql()<{ rows: number }[]>`select count(*)::int as rows from ops.statement_plans where queryid = ${queryId}::bigint`;
    expect(stored?.rows).toBe(2);
  });

  it("ties the plan change to the regression it causes, in the verdict's words", () => {
    const [regression] = flipped.planRegressions.filter((r) => r.queryId === queryId);
    expect(regression).toMatchObject({ regression: true, callsBefore: 20, callsAfter: 20 });
    expect(regression?.meanMsAfter ?? 0).toBeGreaterThan((regression?.meanMsBefore ?? Infinity) * 1.5);
    expect(regression?.verdict).toMatch(
      /^mean [\d.]+x since \d\d:\d\d UTC, plan changed from .*Bitmap Index Scan using pc_orders_customer.* to .*Seq Scan on public\.pc_orders.* at \d\d:\d\d UTC$/,
    );
  });

  it("names the plan change in the regression verdict of the deploy it coincides with", async () => {
    const [regression] = (await statementRegressions(sql())).filter((r) => r.queryId === queryId);
    expect(regression).toMatchObject({ deployAfter: "v2-after", planChange: { from: expect.stringContaining("pc_orders_customer") as string } });
    expect(regression?.verdict).toMatch(
      /^mean [\d.]+x since deploy v2-afte at \d\d:\d\d UTC, plan changed from .* to .*Seq Scan on public\.pc_orders.* at \d\d:\d\d UTC$/,
    );
  });

  it("shows the change on the statement's page: a marker's time, the verdict, both plans", async () => {
    const view = await statementView("24h", queryId);
    const [change] = view?.planChanges ?? [];
    expect(change).toMatchObject({ regression: true, at: (await planChanges(sql(), { since: new Date(0), queryId }))[0]?.at });
    expect(change?.planBefore).toMatch(/Bitmap Index Scan using pc_orders_customer/);
    expect(change?.planAfter).not.toMatch(/pc_orders_customer/);
    expect(change?.planAfter).toMatch(/Seq Scan on public\.pc_orders/);
    expect(view?.measuredAdvice).toBeNull();
  });
});
