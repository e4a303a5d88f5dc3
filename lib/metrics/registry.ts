/** The process's Prometheus metrics (prom-client's default registry). */
import { Counter, register } from "prom-client";

export const metricsRegistry = register;

/**
 * Agent cache outcomes: hit, miss, negative_hit; error (the cache failed and the database
 * answered) and bypass (skipped while the cache is considered down).
 */
export const agentCacheEvents = new Counter({
  name: "gap_agent_cache_events_total",
  help: "Agent cache lookups by outcome",
  labelNames: ["event"] as const,
});
