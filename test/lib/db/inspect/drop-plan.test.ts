/** The drop plan alone: which suggested drops stay safe once all the others are made. */
import { describe, expect, it } from "vitest";
import { heldDrops, type DropReason, type IndexShape } from "../../../../lib/db/inspect/drop-plan.js";

const shape = (oid: number, index: string, keys: string[], table = "orders"): IndexShape => ({ oid, index, table, keys, usable: true });
const SHAPES = [
  shape(1, "orders_pkey", ["id"]),
  shape(2, "by_customer", ["customer_id"]),
  shape(3, "by_customer_note", ["customer_id", "note"]),
  shape(4, "by_status", ["status"]),
];

describe("heldDrops", () => {
  it("keeps a covered index when the index covering it is dropped as unused, even when both are unused", () => {
    const candidates = new Map<number, DropReason>([
      [3, { reason: "unused" }],
      [2, { reason: "redundant", keeperOid: 3 }],
    ]);
    expect(heldDrops(candidates, SHAPES, [], [])).toEqual(new Map([[2, "by_customer_note is suggested for a drop as unused: keep this one"]]));
  });

  it("keeps the last usable index leading with a foreign key's columns, in any order, and lets one go while another remains", () => {
    const fk = { table: "orders", constraint: "orders_customer_fkey", references: "customers", columns: ["customer_id"] };
    const lone = heldDrops(
      new Map([[2, { reason: "unused" as const }]]),
      SHAPES.filter((s) => s.oid !== 3),
      [fk],
      [],
    );
    expect(lone.get(2)).toBe("the last index serving foreign key orders_customer_fkey: without it each delete in customers scans this table");
    expect(heldDrops(new Map([[3, { reason: "unused" as const }]]), SHAPES, [fk], [])).toEqual(new Map());
    const both = heldDrops(
      new Map([
        [3, { reason: "unused" as const }],
        [2, { reason: "unused" as const }],
      ]),
      SHAPES,
      [fk],
      [],
    );
    expect([...both.keys()]).toEqual([2]);
  });

  it("keeps an index that leads with the columns of an index the advice suggests", () => {
    const held = heldDrops(new Map([[4, { reason: "unused" as const }]]), SHAPES, [], [{ table: "orders", columns: ["status"] }]);
    expect(held.get(4)).toBe("it leads with (status), the columns of an index suggested below");
    expect(heldDrops(new Map([[4, { reason: "unused" as const }]]), SHAPES, [], [{ table: "other", columns: ["status"] }])).toEqual(new Map());
  });
});
