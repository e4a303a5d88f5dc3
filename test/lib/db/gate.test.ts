import { describe, expect, it } from "vitest";
import { Gate } from "../../../lib/db/gate.js";

describe("a gate", () => {
  it("admits up to its capacity, then in arrival order as places are released", async () => {
    const gate = new Gate(2);
    const [a, b, c, d] = [gate.enter(), gate.enter(), gate.enter(), gate.enter()];
    const order: string[] = [];
    void c.admitted.then(() => order.push("c"));
    void d.admitted.then(() => order.push("d"));
    await Promise.all([a.admitted, b.admitted]);
    expect([gate.holders, gate.waiting]).toEqual([2, 2]);
    b.release();
    await c.admitted;
    a.release();
    await d.admitted;
    expect(order).toEqual(["c", "d"]);
    expect([gate.holders, gate.waiting]).toEqual([2, 0]);
  });

  it("lets a waiter leave the line, and not an admitted holder; a release counts once", async () => {
    const gate = new Gate(1);
    const holder = gate.enter();
    const leaver = gate.enter();
    const next = gate.enter();
    expect(holder.withdraw()).toBe(false);
    expect(leaver.withdraw()).toBe(true);
    expect(leaver.withdraw()).toBe(false);
    holder.release();
    holder.release();
    await next.admitted;
    expect([gate.holders, gate.waiting]).toEqual([1, 0]);
    leaver.release();
    expect(gate.holders).toBe(1);
  });
});
