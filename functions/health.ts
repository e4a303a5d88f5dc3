/**
 * Is the platform able to serve? The database is required; the cache fails open,
 * so a cache outage degrades the answer instead of failing it.
 */
import { cacheStore } from "../lib/cache/store.js";
import { bounded } from "../lib/db/deadline.js";
import { ConfigError } from "../lib/config.js";
import { DbUnavailableError } from "../lib/db/errors.js";
import { requestDb } from "../lib/db/pool.js";
import { log } from "../lib/log.js";
import { platformMode, type Mode } from "../lib/platform/mode.js";

export interface PartHealth {
  ok: boolean;
  latency_ms: number;
  error?: string;
}

export interface Health {
  status: "ok" | "degraded" | "down";
  /** The platform's mode: in maintenance the API is closed though every part is healthy. */
  mode: Mode;
  db: PartHealth;
  cache: PartHealth & { driver: string };
}

const PROBE_TIMEOUT_MS = 2000;

async function probe(check: () => Promise<unknown>): Promise<PartHealth> {
  const started = performance.now();
  try {
    await check();
    return { ok: true, latency_ms: elapsedMs(started) };
  } catch (error) {
    return { ok: false, latency_ms: elapsedMs(started), error: publicReason(error) };
  }
}

function elapsedMs(started: number): number {
  return Math.round((performance.now() - started) * 100) / 100;
}

/** Our own errors explain themselves; anything else is logged, not shown to an anonymous caller. */
function publicReason(error: unknown): string {
  if (error instanceof DbUnavailableError || error instanceof ConfigError) return error.message;
  log.warn("health probe failed", { error });
  return "check failed; see the server log";
}

export async function health(): Promise<Health> {
  const store = cacheStore();
  const [db, cache, { mode }] = await Promise.all([
    probe(() => bounded(requestDb()`select 1`, { startWithinMs: PROBE_TIMEOUT_MS, finishWithinMs: PROBE_TIMEOUT_MS })),
    probe(() => store.ping()),
    platformMode(),
  ]);
  const status = !db.ok ? "down" : cache.ok ? "ok" : "degraded";
  return { status, mode, db, cache: { driver: store.driver, ...cache } };
}
