/** How much more load the platform takes before a connection limit is reached (lib/db/inspect/capacity.ts), with this deployment's limits. */
import { config } from "../lib/config.js";
import { busyIntervals, capacityOf, usableServerConnections, type Capacity } from "../lib/db/inspect/capacity.js";
import type { Sql } from "../lib/db/pool.js";

/**
 * The last day's peak workload against the pooler's pool (when a pooler is configured), the
 * server's usable connections, and, off Vercel (one process, one pool), the instance's pool.
 * On Vercel each instance has a pool of its own, so one instance's is no limit of the whole.
 */
export async function capacityNow(sql: Sql): Promise<Capacity> {
  const { pool, poolerUrl, onVercel } = config();
  const capacity = capacityOf(await busyIntervals(sql), [
    ...(onVercel ? [] : [{ name: "pool of one instance" as const, connections: pool.max }]),
    ...(poolerUrl ? [{ name: "pooler's pool" as const, connections: pool.poolerPoolSize ?? null }] : []),
    { name: "server's usable connections" as const, connections: await usableServerConnections(sql) },
  ]);
  return capacity;
}
