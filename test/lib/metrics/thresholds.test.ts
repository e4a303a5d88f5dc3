import { describe, expect, it } from "vitest";
import { evaluatedThresholds, statusOf } from "../../../lib/metrics/thresholds.js";

describe("the Target Metrics table", () => {
  it.each([
    ["statement_p95_ms", 100, "ok"],
    ["statement_p95_ms", 100.1, "warn"],
    ["statement_p95_ms", 500, "warn"],
    ["statement_p95_ms", 501, "alert"],
    ["connection_pool_usage_ratio", 0.7, "ok"],
    ["connection_pool_usage_ratio", 0.8, "warn"],
    ["connection_pool_usage_ratio", 0.86, "alert"],
    ["active_connections", 20, "ok"],
    ["active_connections", 51, "alert"],
    ["slow_queries_per_hour", 0, "ok"],
    ["slow_queries_per_hour", 3, "warn"],
    ["slow_queries_per_hour", 6, "alert"],
    ["lock_wait_ms", 9, "ok"],
    ["lock_wait_ms", 50, "warn"],
    ["lock_wait_ms", 150, "alert"],
  ] as const)("%s = %d is %s", (metric, value, status) => {
    expect(statusOf(metric, value)).toBe(status);
  });

  it("leaves out figures the window has no data for", () => {
    const results = evaluatedThresholds({ statement_p95_ms: null, lock_wait_ms: 0 });
    expect(results).toEqual([{ metric: "lock_wait_ms", value: 0, status: "ok", target: 10, alert: 100 }]);
  });
});
