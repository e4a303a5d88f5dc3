/** The capacity figure alone: Little's law over the intervals, the 95th percentile, the tightest limit. */
import { describe, expect, it } from "vitest";
import { capacityOf } from "../../../../lib/db/inspect/capacity.js";

const intervals = Array.from({ length: 20 }, (_, i) => ({ at: `2026-12-06T${String(i).padStart(2, "0")}:00:00.000000Z`, busy: i + 1 }));

describe("capacityOf", () => {
  it("takes the 95th percentile interval as today's peak and names the limit it meets first", () => {
    const capacity = capacityOf(intervals, [
      { name: "pooler's pool", connections: 38 },
      { name: "server's usable connections", connections: 97 },
    ]);
    expect(capacity.peak).toEqual({ at: "2026-12-06T18:00:00.000000Z", busy: 19 });
    expect(capacity.mean).toBe(10.5);
    expect(capacity.limits).toEqual([
      { name: "pooler's pool", connections: 38, headroom: 2 },
      { name: "server's usable connections", connections: 97, headroom: 5.1 },
    ]);
    expect(capacity.summary).toBe(
      "at today's peak (the 95th percentile of the last day's 20 intervals) 19.0 connections busy of 38 in the pooler's pool; at 2.0x today's load the pooler's pool is the limit",
    );
  });

  it("says what it does not know, and what it cannot judge without a workload", () => {
    const unknown = capacityOf(intervals, [{ name: "pooler's pool", connections: null }]);
    expect(unknown.notes).toContain("the pooler's pool is not known (see DB_POOLER_POOL_SIZE)");
    expect(unknown.limitedBy).toBeNull();
    const empty = capacityOf([], [{ name: "server's usable connections", connections: 97 }]);
    expect(empty).toMatchObject({ intervals: 0, peak: null, limitedBy: null });
    expect(empty.summary).toMatch(/^no workload recorded in the last day/);
  });
});
