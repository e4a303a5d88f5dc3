/**
 * The platform's mode: normal; read-only (reads served, writes refused), for a restore or a
 * migration that must not race writes; or maintenance (the API refused, operations endpoints
 * still served). It must outlive a restart, or a redeploy in the middle of a restore reopens
 * the API: with Upstash it lives there (every instance sees one mode); without (npm start, a
 * worker) in a file in LOCAL_DATA_DIR. On Vercel without Upstash no place outlives an instance,
 * so setting a mode is refused there, saying why. Each instance reads the mode at most every
 * 5 s: the API's hot path pays no round trip for it, and a change reaches every instance within 5 s.
 */
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import path from "node:path";
import { cacheStore } from "../cache/store.js";
import { config } from "../config.js";
import { log } from "../log.js";
import { ModeUnavailableError } from "./errors.js";

export const MODES = ["normal", "read-only", "maintenance"] as const;
export type Mode = (typeof MODES)[number];

export interface ModeState {
  mode: Mode;
  reason: string | null;
  /** When this mode was set, ISO 8601; null for the default. */
  since: string | null;
}

const KEY = "gap:platform-mode";
const FILE = "platform-mode.json";
export const MODE_MEMO_MS = 5000;
/** A mode outlives any maintenance; "normal" is written too, so nothing expires into a surprise. */
const TTL_SECONDS = 366 * 24 * 3600;
const NORMAL: ModeState = { mode: "normal", reason: null, since: null };

/** Where the mode is kept: read and written as one JSON text. */
interface ModeStore {
  /** Where, for a person: "Upstash", or the file's path. */
  readonly where: string;
  read(): Promise<string | null>;
  write(value: string): Promise<void>;
}

function fileStore(file: string): ModeStore {
  return {
    where: file,
    read: () =>
      readFile(file, "utf8").catch((error: NodeJS.ErrnoException) => {
        if (error.code === "ENOENT") return null;
        throw error;
      }),
    async write(value) {
      await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
      // A reader never sees half a file: the new text takes the name whole.
      const partial = `${file}.${process.pid}.partial`;
      await writeFile(partial, value, { mode: 0o600 });
      await rename(partial, file);
    },
  };
}

function modeStore(): ModeStore {
  const { upstash, onVercel, localDataDir } = config();
  if (upstash) {
    return {
      where: "Upstash",
      read: async () => (await cacheStore().mget([KEY]))[0] ?? null,
      write: (value) => cacheStore().set(KEY, value, TTL_SECONDS),
    };
  }
  if (onVercel) {
    return {
      where: "nowhere",
      read: async () => null,
      write: async () => {
        throw new ModeUnavailableError(
          "setting the mode on Vercel needs Upstash (UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN): without it each instance would hold a mode of its own and lose it when it restarts",
        );
      },
    };
  }
  return fileStore(path.resolve(localDataDir, FILE));
}

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
    memo = { state: parsedState(await modeStore().read()), readAt: now };
    unreadable = false;
  } catch (error) {
    if (!unreadable) log.warn("platform mode unreadable, keeping the last known", { error: error instanceof Error ? error.name : "unknown" });
    unreadable = true;
    memo = { state: memo?.state ?? NORMAL, readAt: now };
  }
  return memo.state;
}

/** Sets the mode for every instance (this one at once, the others within 5 s), where it outlives a restart. */
export async function setPlatformMode(mode: Mode, reason: string | null, now: Date = new Date()): Promise<ModeState> {
  const state: ModeState = { mode, reason: mode === "normal" ? null : reason, since: now.toISOString() };
  const store = modeStore();
  await store.write(JSON.stringify(state));
  memo = { state, readAt: now.getTime() };
  log.warn("platform mode set", { ...state, kept: store.where });
  return state;
}

/** Forgets the memo (tests, and a configuration change). */
export function resetPlatformMode(): void {
  memo = undefined;
  unreadable = false;
}
