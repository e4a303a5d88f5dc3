/** The first level alone: kept for its time, bounded, and never keeping a value a drop overtook. */
import { describe, expect, it } from "vitest";
import { firstLevel } from "../../../lib/cache/first-level.js";

describe("firstLevel", () => {
  it("keeps a value for its time, then forgets it", () => {
    let now = 1_000;
    const local = firstLevel({ ttlMs: 1000, now: () => now });
    local.keep("a", "1", local.generation);
    now += 999;
    expect(local.get("a")).toBe("1");
    now += 2;
    expect(local.get("a")).toBeNull();
  });

  it("drops at once, and does not keep a value loaded before a drop", () => {
    const local = firstLevel({ ttlMs: 60_000 });
    local.keep("a", "old", local.generation);
    const before = local.generation;
    local.drop("a");
    expect(local.get("a")).toBeNull();
    local.keep("a", "loaded before the write", before);
    expect(local.get("a")).toBeNull();
    local.keep("a", "new", local.generation);
    expect(local.get("a")).toBe("new");
  });

  it("holds at most its entries and bytes, the least recently used going first", () => {
    const local = firstLevel({ ttlMs: 60_000, maxEntries: 2, maxBytes: 1000 });
    for (const key of ["a", "b", "c"]) local.keep(key, "v", local.generation);
    expect([local.get("a"), local.get("b"), local.get("c")]).toEqual([null, "v", "v"]);
    const small = firstLevel({ ttlMs: 60_000, maxBytes: 100 });
    small.keep("big", "x".repeat(60), small.generation);
    expect(small.get("big")).toBeNull();
    expect(small.entries).toBe(0);
  });
});
