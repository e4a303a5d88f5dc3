/**
 * Capacity planning from the stats snapshots. By Little's law, the connections a workload keeps
 * busy are its statements' arrival rate times their time: over a snapshot's interval, the sum of
 * every statement's execution time divided by the interval's length. Taken at the 95th
 * percentile of the last day's intervals (a peak that is not a single outlier) and set against
 * each limit on the way (the pool of one instance, the pooler's pool, the server's usable
 * connections), it says how much more load the platform takes before one of them is the limit.
 * It counts time inside statements only: a transaction held open between them keeps its
 * connection busy longer, so the real figure can only be higher.
 */
import type { Sql } from "../pool.js";
import { usableConnections } from "./connections.js";

export interface BusyInterval {
  /** When the interval ended (the snapshot's time). */
  at: string;
  /** Connections kept busy on average over the interval: statement time / interval length. */
  busy: number;
}

export interface CapacityLimit {
  name: "pool of one instance" | "pooler's pool" | "server's usable connections";
  connections: number;
  /** How many times today's peak load fits before this limit is reached. */
  headroom: number | null;
}

export interface Capacity {
  /** Snapshot intervals of the last day with their work recorded. */
  intervals: number;
  /** The 95th percentile of the intervals' busy connections, and when it was seen. */
  peak: BusyInterval | null;
  mean: number | null;
  /** The ten busiest intervals, busiest first. */
  busiest: BusyInterval[];
  limits: CapacityLimit[];
  /** The first limit today's load would meet as it grows; null without a peak. */
  limitedBy: CapacityLimit | null;
  summary: string;
  /** What the figure leaves out or could not use. */
  notes: string[];
}

/** Each snapshot interval of the last `hours` with the connections its statements kept busy, the busiest first. */
export async function busyIntervals(sql: Sql, { hours = 24 } = {}): Promise<BusyInterval[]> {
  return sql<BusyInterval[]>`
    with intervals as (
      select s.id, s.taken_at, extract(epoch from s.taken_at - lag(s.taken_at) over (order by s.taken_at)) as seconds
      from ops.db_stats_snapshots s
      where s.taken_at >= now() - make_interval(hours => ${hours}) - interval '1 hour'
    )
    select api_timestamp(i.taken_at) as at,
      round((coalesce((select sum(q.total_ms) from ops.query_stats q where q.snapshot_id = i.id), 0) / 1000 / i.seconds)::numeric, 3)::float8 as busy
    from intervals i
    where i.seconds > 0 and i.taken_at >= now() - make_interval(hours => ${hours})
    order by busy desc, i.taken_at desc`;
}

/** The server's connection slots clients may use. */
export async function usableServerConnections(sql: Sql): Promise<number> {
  const [row] = await sql<{ usable: number }[]>`select ${usableConnections(sql)} as usable`;
  return row?.usable ?? 0;
}

const times = (ratio: number) => `${ratio >= 10 ? Math.round(ratio) : ratio.toFixed(1)}x`;

/** The capacity the intervals leave against the limits given (a limit of null is unknown and left out, said in the notes). */
export function capacityOf(intervals: readonly BusyInterval[], limits: ReadonlyArray<{ name: CapacityLimit["name"]; connections: number | null }>): Capacity {
  const notes = ["time inside statements only: a transaction held open between its statements keeps its connection longer, so load can only be higher"];
  const known = limits.filter((l): l is { name: CapacityLimit["name"]; connections: number } => l.connections !== null && l.connections > 0);
  for (const l of limits) if (l.connections === null) notes.push(`the ${l.name} is not known (see DB_POOLER_POOL_SIZE)`);
  const sorted = [...intervals].sort((a, b) => a.busy - b.busy);
  if (sorted.length === 0) {
    return {
      intervals: 0,
      peak: null,
      mean: null,
      busiest: [],
      limits: known.map((l) => ({ ...l, headroom: null })),
      limitedBy: null,
      summary: "no workload recorded in the last day: the stats snapshots have not run, or pg_stat_statements is off",
      notes,
    };
  }
  const peak = sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.95) - 1)] ?? sorted[sorted.length - 1];
  const mean = Math.round((sorted.reduce((sum, i) => sum + i.busy, 0) / sorted.length) * 1000) / 1000;
  const busy = Math.max(peak?.busy ?? 0, 0.001);
  const judged = known.map((l) => ({ ...l, headroom: Math.round((l.connections / busy) * 10) / 10 }));
  const limitedBy = [...judged].sort((a, b) => (a.headroom ?? Infinity) - (b.headroom ?? Infinity))[0] ?? null;
  const summary = limitedBy
    ? `at today's peak (the 95th percentile of the last day's ${sorted.length} intervals) ${(peak?.busy ?? 0).toFixed(1)} connections busy of ${limitedBy.connections} in the ${limitedBy.name}; at ${times(limitedBy.headroom ?? 0)} today's load the ${limitedBy.name} is the limit`
    : `at today's peak ${(peak?.busy ?? 0).toFixed(1)} connections busy; no limit known to set it against`;
  const busiest = [...sorted].reverse().slice(0, 10);
  return { intervals: sorted.length, peak: peak ?? null, mean, busiest, limits: judged, limitedBy, summary, notes };
}
