/**
 * The platform's mode: normal; read-only (reads served, writes refused), for a restore or a
 * migration that must not race writes; or maintenance (the API refused, operations endpoints
 * still served). It lives in the cache store (Upstash on Vercel, so every instance sees one
 * mode) and each instance reads it at most every 5 s: the API's hot path pays no round trip
 * for it, and a change reaches every instance within 5 s.
 */
import { cacheStore } from "../cache/store.js";
import { log } from "../log.js";

export const MODES = ["normal", "read-only", "maintenance"] as const;
export type Mode = (typeof MODES)[number];

export interface ModeState {
  mode: Mode;
  reason: string | null;
  /** When this mode was set, ISO 8601; null for the default. */
  since: string | null;
}

const KEY = "gap:platform-mode";
export const MODE_MEMO_MS = 5000;
/** A mode outlives any maintenance; "normal" is written too, so nothing expires into a surprise. */
const TTL_SECONDS = 366 * 24 * 3600;
const NORMAL: ModeState = { mode: "normal", reason: null, since: null };

let memo: { state: ModeState; readAt: number } | undefined;
let unreadable = false;

function parsedState(raw: string | null | undefined): ModeState {
  if (!raw) return NORMAL;
  try {
    const value = JSON.parse(raw) as Partial<ModeState>;
    return MODES.includes(value.mode as Mode) ? { mode: value.mode as Mode, reason: value.reason ?? null, since: value.since ?? null } : NORMAL;
  } catch {
    return NORMAL;
  }
}

/**
 * The current mode, read through this instance's 5-second memo. If the store cannot be read,
 * the last mode known holds (normal when none is): a cache outage must not close the API.
 */
export async function platformMode(now: number = Date.now()): Promise<ModeState> {
  if (memo && now - memo.readAt < MODE_MEMO_MS) return memo.state;
  try {
    const [raw] = await cacheStore().mget([KEY]);
    memo = { state: parsedState(raw), readAt: now };
    unreadable = false;
  } catch (error) {
    if (!unreadable) log.warn("platform mode unreadable, keeping the last known", { error: error instanceof Error ? error.name : "unknown" });
    unreadable = true;
    memo = { state: memo?.state ?? NORMAL, readAt: now };
  }
  return memo.state;
}

/** Sets the mode for every instance (this one at once, the others within 5 s). */
export async function setPlatformMode(mode: Mode, reason: string | null, now: Date = new Date()): Promise<ModeState> {
  const state: ModeState = { mode, reason: mode === "normal" ? null : reason, since: now.toISOString() };
  await cacheStore().set(KEY, JSON.stringify(state), TTL_SECONDS);
  memo = { state, readAt: now.getTime() };
  log.warn("platform mode set", { ...state });
  return state;
}

/** Forgets the memo (tests, and a configuration change). */
export function resetPlatformMode(): void {
  memo = undefined;
  unreadable = false;
}
