/**
 * Counters the request paths keep, in plain memory: prom-client (and its OpenTelemetry
 * dependency) costs a cold start tens of milliseconds, and a Vercel function's counts are only
 * read where `/api/metrics` runs in the same process (`npm start`, a worker). The metrics
 * endpoint publishes them as Prometheus counters at each scrape.
 */

/** A counter by one label, every value of it known up front so each is published from zero. */
export class EventCounter<Value extends string> {
  private readonly counts: Map<Value, number>;

  constructor(
    readonly name: string,
    readonly help: string,
    readonly label: string,
    values: readonly Value[],
  ) {
    this.counts = new Map(values.map((value) => [value, 0]));
  }

  inc(value: Value, by = 1): void {
    this.counts.set(value, (this.counts.get(value) ?? 0) + by);
  }

  /** Each label value with its count so far. */
  entries(): Array<[Value, number]> {
    return [...this.counts.entries()];
  }
}

/**
 * Agent cache outcomes: hit, miss, negative_hit; error (the cache failed and the database
 * answered) and bypass (skipped while the cache is considered down).
 */
export const agentCacheEvents = new EventCounter("gap_agent_cache_events_total", "Agent cache lookups by outcome", "event", [
  "hit",
  "miss",
  "negative_hit",
  "error",
  "bypass",
] as const);

/** Every counter of this process, for the metrics endpoint. */
export const PROCESS_COUNTERS: ReadonlyArray<EventCounter<string>> = [agentCacheEvents];
