import { beforeAll, describe, expect, it, vi } from "vitest";
import { statementRegressions } from "../../../../lib/db/inspect/regressions.js";
import { rollUpQueryStats } from "../../../../lib/data/stats-snapshots.js";
import { directDb } from "../../../../lib/db/pool.js";

/** Two snapshots under deploy "v1", then two under "v2", with statements' work in each, rolled up as the job does. */
async function history(work: Array<{ queryid: number; before: [number, number]; after: [number, number] }>): Promise<void> {
  const sql = directDb();
  const ids: string[] = [];
  for (const [minutesAgo, deploy] of [
    [40, "v1"],
    [30, "v1"],
    [20, "v2"],
    [10, "v2"],
  ] as const) {
    const [row] = await sql`
      insert into ops.db_stats_snapshots (slot, taken_at, deploy_id, connections_by_state, database_size_bytes, blocked_sessions, longest_transaction_seconds, xid_age)
      values (now() - make_interval(mins => ${minutesAgo}), now() - make_interval(mins => ${minutesAgo}), ${deploy}, '{}', 1, 0, 0, 1)
      returning id::text as id`;
    ids.push(row?.id);
  }
  for (const { queryid, before, after } of work) {
    await sql`insert into ops.query_texts (queryid, query) values (${queryid}, ${`select statement ${queryid}`})`;
    for (const [index, id] of ids.entries()) {
      const [calls, meanMs] = index < 2 ? before : after;
      await sql`
        insert into ops.query_stats (snapshot_id, queryid, calls, total_ms, mean_ms, cumulative_calls, cumulative_total_ms, taken_at)
        select ${id}, ${queryid}, ${calls}, ${calls * meanMs}, ${meanMs}, 0, 0, taken_at from ops.db_stats_snapshots where id = ${id}`;
    }
  }
  for (const id of ids) await rollUpQueryStats(sql, id);
}

describe("statementRegressions", () => {
  beforeAll(() =>
    history([
      { queryid: 1, before: [50, 10], after: [50, 30] }, // 10 -> 30 ms: a regression
      { queryid: 2, before: [50, 10], after: [50, 12] }, // up 20 %: no
      { queryid: 3, before: [50, 1], after: [50, 3] }, // tripled but only 2 ms more: no
      { queryid: 4, before: [2, 10], after: [50, 40] }, // too few calls before to judge
    ]),
  );

  it("lists statements whose mean rose by half and by more than a few ms after the newest deploy", async () => {
    expect(await statementRegressions(directDb())).toEqual([
      {
        queryId: "1",
        query: "select statement 1",
        deployBefore: "v1",
        deployAfter: "v2",
        meanMsBefore: 10,
        meanMsAfter: 30,
        callsBefore: 100,
        callsAfter: 100,
        deployAt: expect.stringMatching(/Z$/) as string,
        // No plan fingerprints in this history: no plan change to name.
        planChange: null,
        verdict: expect.stringMatching(/^mean 3x since deploy v2 at \d\d:\d\d UTC$/) as string,
      },
    ]);
  });

  it("takes its thresholds as options", async () => {
    const strict = await statementRegressions(directDb(), { minIncreaseRatio: 0.1, minIncreaseMs: 1, minCalls: 1 });
    expect(strict.map((r) => r.queryId)).toEqual(["4", "1", "2", "3"]);
  });
});

describe("the snapshot job", () => {
  it("lists and logs the regressions of the newest deploy", async () => {
    const { takeStatsSnapshot, SNAPSHOT_INTERVAL_MS } = await import("../../../../functions/stats-snapshot.js");
    const { useConfig } = await import("../../../harness/config.js");
    await useConfig({ VERCEL_GIT_COMMIT_SHA: "v2" });
    const warned = vi.spyOn(console, "log").mockImplementation(() => undefined);
    const result = await takeStatsSnapshot({ at: new Date(Date.now() + 100 * SNAPSHOT_INTERVAL_MS) });
    if (result.status !== "taken") throw new Error("expected a snapshot");
    expect(result.regressions.map((r) => r.queryId)).toEqual(["1"]);
    const lines = warned.mock.calls.map((c) => String(c[0])).filter((l) => l.includes("slower since the newest deploy"));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('"meanMsAfter":30');
    warned.mockRestore();
  });
});
