/**
 * The Target Metrics table: each figure is ok at or under its target, alert above its
 * alert level, warn in between. Evaluated at every snapshot over the snapshot's window.
 */
export const THRESHOLDS = {
  statement_p95_ms: { target: 100, alert: 500, unit: "ms" },
  connection_pool_usage_ratio: { target: 0.7, alert: 0.85, unit: "ratio" },
  active_connections: { target: 20, alert: 50, unit: "connections" },
  slow_queries_per_hour: { target: 0, alert: 5, unit: "per hour" },
  lock_wait_ms: { target: 10, alert: 100, unit: "ms" },
} as const;

export type ThresholdMetric = keyof typeof THRESHOLDS;
export type ThresholdStatus = "ok" | "warn" | "alert";

export interface ThresholdResult {
  metric: ThresholdMetric;
  value: number;
  status: ThresholdStatus;
  target: number;
  alert: number;
}

export function statusOf(metric: ThresholdMetric, value: number): ThresholdStatus {
  const { target, alert } = THRESHOLDS[metric];
  if (value > alert) return "alert";
  return value > target ? "warn" : "ok";
}

/** Results for the figures known in this window (a figure without data is left out, not guessed). */
export function evaluatedThresholds(values: Partial<Record<ThresholdMetric, number | null>>): ThresholdResult[] {
  return (Object.keys(THRESHOLDS) as ThresholdMetric[]).flatMap((metric) => {
    const value = values[metric];
    if (value === undefined || value === null) return [];
    const { target, alert } = THRESHOLDS[metric];
    return [{ metric, value, status: statusOf(metric, value), target, alert }];
  });
}
