/** The capacity figure from the recorded workload: statement time over each snapshot interval, against this deployment's limits. */
import { afterAll, describe, expect, it } from "vitest";
import { capacityNow } from "../../functions/capacity.js";
import { inspectionReport } from "../../functions/inspection-report.js";
import { directDb } from "../../lib/db/pool.js";
import { useConfig } from "../harness/config.js";
import { TEST_DATABASE_URL } from "../harness/file-database.js";

describe("capacity from the stats snapshots", () => {
  afterAll(() => useConfig({ SUPABASE_POOLER_URL: "", DB_POOLER_POOL_SIZE: "", DB_POOL_MAX: "" }));

  it("busies 3 connections an interval for 3 s of statements a second, and sets the peak against the pooler's pool", async () => {
    await useConfig({ SUPABASE_POOLER_URL: TEST_DATABASE_URL, DB_POOLER_POOL_SIZE: "15", DB_POOL_MAX: "20" });
    const sql = directDb();
    // Twelve 5-minute intervals of the last hour; the statement runs 900 s per interval (3 connections busy), 1,800 s in the busiest.
    await sql`insert into ops.query_texts (queryid, query) values (-424242, 'select 1 /* capacity */') on conflict do nothing`;
    const [first] = await sql<{ id: string }[]>`
      insert into ops.db_stats_snapshots (slot, taken_at, connections_by_state, database_size_bytes, blocked_sessions, longest_transaction_seconds, xid_age)
      select s, s, '{}'::jsonb, 1, 0, 0, 0
      from generate_series(date_trunc('minute', now()) - interval '60 minutes', date_trunc('minute', now()) - interval '5 minutes', interval '5 minutes') s
      returning id::text`;
    await sql`
      insert into ops.query_stats (snapshot_id, queryid, calls, total_ms, mean_ms, cumulative_calls, cumulative_total_ms, taken_at)
      select id, -424242, 1000, case when taken_at = (select max(taken_at) from ops.db_stats_snapshots) then 1800000 else 900000 end, 900, 0, 0, taken_at
      from ops.db_stats_snapshots where id::text >= ${first?.id ?? "0"}`;
    const capacity = await capacityNow(sql);
    expect(capacity.intervals).toBe(11);
    expect(capacity.peak?.busy).toBe(6);
    expect(capacity.limits.find((l) => l.name === "pooler's pool")).toEqual({ name: "pooler's pool", connections: 15, headroom: 2.5 });
    expect(capacity.limits.find((l) => l.name === "pool of one instance")).toEqual({ name: "pool of one instance", connections: 20, headroom: 3.3 });
    expect(capacity.limitedBy?.name).toBe("pooler's pool");
    expect(capacity.summary).toMatch(/6\.0 connections busy of 15 in the pooler's pool; at 2\.5x today's load the pooler's pool is the limit$/);
    const report = await inspectionReport(sql, ["capacity"]);
    expect(report.capacity?.tables.capacity).toEqual([{ summary: capacity.summary }]);
    expect(report.capacity?.tables.busiestIntervals?.[0]).toMatchObject({ busy: 6 });
  });
});
