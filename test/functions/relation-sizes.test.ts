/** Every table's and index's size, sampled hourly with the stats snapshot: growth over days, a history page, the days to the quota. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { relationView, spaceView } from "../../functions/dashboard.js";
import { takeStatsSnapshot } from "../../functions/stats-snapshot.js";
import { directDb } from "../../lib/db/pool.js";
import { useConfig } from "../harness/config.js";

const HOUR = 3_600_000;
const samples = async () =>
  (await directDb()<{ n: number }[]>`select count(distinct snapshot_id)::int as n from ops.relation_sizes where relation_name = 'sized_notes'`)[0]?.n;

describe("relation sizes over time", () => {
  const start = Date.now() + 10 * HOUR;
  beforeAll(async () => {
    await useConfig({ DB_SIZE_QUOTA_BYTES: String(1024 ** 3) });
    await directDb()`create table sized_notes (id int primary key, body text not null)`;
    await directDb()`insert into sized_notes select g, repeat('x', 200) from generate_series(1, 2000) g`;
  });
  afterAll(async () => {
    await directDb()`drop table sized_notes`;
    await useConfig({ DB_SIZE_QUOTA_BYTES: "" });
  });

  it("samples every table and index once an hour, with the snapshot of that hour", async () => {
    await takeStatsSnapshot({ at: new Date(start) });
    expect(await samples()).toBe(1);
    await takeStatsSnapshot({ at: new Date(start + 30 * 60_000) });
    expect(await samples()).toBe(1);
    const [index] = await directDb()<{ kind: string; bytes: number }[]>`
      select kind, bytes::float8 as bytes from ops.relation_sizes where relation_name = 'sized_notes_pkey'`;
    expect(index).toMatchObject({ kind: "index" });
    expect(index?.bytes).toBeGreaterThan(0);
  });

  it("gives each relation its growth a day since the oldest sample of the week, and the days to the quota at that pace", async () => {
    // The first sample as if taken two days ago; the table has grown since.
    await directDb()`update ops.db_stats_snapshots set taken_at = now() - interval '2 days' where id = (select min(snapshot_id) from ops.relation_sizes where relation_name = 'sized_notes')`;
    await directDb()`insert into sized_notes select g, repeat('y', 200) from generate_series(2001, 8000) g`;
    const [before] = await directDb()<{ total: number }[]>`
      select total_bytes::float8 as total from ops.relation_sizes where relation_name = 'sized_notes'`;
    const { relations, quota } = await spaceView("7d");
    const notes = relations.find((r) => r.name === "sized_notes");
    const [now] = await directDb()<{ total: number }[]>`select pg_total_relation_size('sized_notes')::float8 as total`;
    expect(notes).toMatchObject({ schema: "public", kind: "table", totalBytes: now?.total, totalBytesBefore: before?.total });
    expect(notes?.bytesPerDay).toBeCloseTo(((now?.total ?? 0) - (before?.total ?? 0)) / 2, -3);
    const databaseBytes = (quota?.usedRatio ?? 0) * 1024 ** 3;
    expect(notes?.daysToQuota).toBeCloseTo((1024 ** 3 - databaseBytes) / (notes?.bytesPerDay ?? 1), -1);
    // Largest first; an index has no "with indexes" of its own.
    expect(relations.map((r) => r.totalBytes)).toEqual([...relations.map((r) => r.totalBytes)].sort((a, b) => b - a));
  });

  it("shows one relation's history, and nothing for a name that never existed", async () => {
    await takeStatsSnapshot({ at: new Date(start + 2 * HOUR) });
    const view = await relationView("7d", "public", "sized_notes");
    expect(view?.series.t).toHaveLength(2);
    expect(view?.series.values.totalBytes?.[1]).toBeGreaterThan(view?.series.values.totalBytes?.[0] ?? Infinity);
    expect(view?.now).toMatchObject({ name: "sized_notes", kind: "table" });
    expect(await relationView("7d", "public", "never_was")).toBeUndefined();
  });
});
