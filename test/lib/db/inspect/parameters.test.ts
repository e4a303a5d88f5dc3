/** Parameter values drawn from a table's statistics for recorded statements, on a real PostgreSQL. */
import { beforeAll, describe, expect, it } from "vitest";
import { runnable } from "../../../../lib/db/inspect/measure.js";
import { representativeValues } from "../../../../lib/db/inspect/parameters.js";
import { directDb } from "../../../../lib/db/pool.js";

const sql = () => directDb();

beforeAll(async () => {
  await sql()`create table pv_items (id int primary key, kind text not null, price int not null, tags text[] not null default '{}')`;
  // 97 rows in 100 are 'common': the value a drawn row has.
  await sql()`insert into pv_items select g, case when g % 100 < 97 then 'common' else 'rare' || (g % 100) end, g % 1000 from generate_series(1, 20000) g`;
  await sql()`analyze pv_items`;
});

describe("representative parameter values", () => {
  it("draws each compared column's values in proportion to the rows that hold them", async () => {
    const drawn = await representativeValues(sql(), "select id from pv_items where kind = $1", { count: 10 });
    expect(drawn.sets?.filter(([kind]) => kind === "common")).toHaveLength(10);
    const prices = await representativeValues(sql(), "select id from pv_items where price = $1", { count: 5 });
    const values = prices.sets?.map(([price]) => Number(price)) ?? [];
    // Spread over the histogram: evenly spaced points of the distribution, increasing.
    expect(values).toEqual([...values].sort((a, b) => a - b));
    expect((values.at(-1) ?? 0) - (values[0] ?? 0)).toBeGreaterThan(500);
  });

  it("knows IN lists, = ANY of an array, BETWEEN, aliases, LIMIT and OFFSET, and an UPDATE's SET", async () => {
    const drawn = await representativeValues(
      sql(),
      "select i.id from pv_items i where i.kind in ($1, $2) and i.price between $3 and $4 and i.id = any($5) order by i.id limit $6 offset $7",
      { count: 1 },
    );
    expect(drawn.sets?.[0]).toEqual([
      "common",
      "common",
      expect.stringMatching(/^\d+$/),
      expect.stringMatching(/^\d+$/),
      expect.stringMatching(/^\{"\d+"\}$/),
      "50",
      "0",
    ]);
    const update = await representativeValues(sql(), "update pv_items set price = $1 where kind = $2", { count: 1 });
    expect(update.sets?.[0]).toEqual([expect.stringMatching(/^\d+$/), "common"]);
  });

  it("leaves a parameter compared with no column NULL and says so, and says why when a column has no statistics", async () => {
    expect(await representativeValues(sql(), "select $1::int + price from pv_items where kind = $2", { count: 1 })).toEqual({
      sets: [[null, "common"]],
      unmapped: [1],
    });
    await sql()`create table pv_unanalyzed (v int)`;
    expect(await representativeValues(sql(), "select 1 from pv_unanalyzed where v = $1")).toEqual({
      sets: null,
      reason: "$1 is compared with v, which has no statistics on the copy (ANALYZE it)",
    });
  });

  it("times only reads with every value drawn; a write with a NULL for its SET is planned, not timed", async () => {
    const [me] = await sql()<{ role: string }[]>`select current_user as role`;
    const statement = (query: string) => ({ queryId: "1", query, shownQuery: query, roles: [me?.role ?? ""] });
    await sql().begin(async (tx) => {
      expect(await runnable(tx, statement("select $1::int + price from pv_items where kind = $2"), { valueSets: 1 })).toEqual({
        sets: null,
        reason: "$1 is not compared with a column, so no value for it can be drawn from the statistics",
      });
      expect(await runnable(tx, statement("update pv_items set price = price + $1 where kind = $2"), { valueSets: 1 })).toEqual({
        sets: [[null, "common"]],
        writes: "it updates rows",
      });
    });
  });
});
