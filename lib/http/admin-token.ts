/**
 * The admin token, however it is presented (signing in to the dashboard, `Authorization: Bearer`
 * on /api/ops/* and /api/admin/mode), checked by one limiter:
 *
 * - per client address: past SIGN_IN_LIMITS.perAddress wrong tokens in the window, that address
 *   is refused (429) before its token is even compared. The address is the TCP peer's, or on
 *   Vercel the one its edge sets (x-vercel-forwarded-for): never a header the client chose.
 * - everywhere: past SIGN_IN_LIMITS.everywhere wrong tokens in the window, each further wrong
 *   one is answered only after a delay, which slows a guesser spread over many addresses
 *   without ever refusing the right token.
 *
 * The keys of addresses and of the global count live apart (`address:` and `everywhere`), so no
 * address can be the global key.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { cacheStore } from "../cache/store.js";
import { config, ConfigError } from "../config.js";
import { log } from "../log.js";
import { ApiError } from "./errors.js";

/** Wrong tokens allowed per window from one address, and from all addresses together before each further one is slowed. */
export const SIGN_IN_LIMITS = { perAddress: 5, everywhere: 50, windowSeconds: 15 * 60, slowdownMs: 2000 } as const;

/** Set by the local server and the worker from the TCP peer, replacing any the client sent. */
export const PEER_ADDRESS_HEADER = "x-gap-peer-address";

function adminToken(): string {
  const token = config().adminToken;
  if (!token) throw new ConfigError("Invalid configuration: ADMIN_TOKEN must be set");
  return token;
}

const digest = (value: string) => createHash("sha256").update(value).digest();

/** Whether `given` is ADMIN_TOKEN, in time that says nothing about the token. */
function isAdminToken(given: string): boolean {
  return timingSafeEqual(digest(given), digest(adminToken()));
}

/** The client's address as something the client cannot forge says it: Vercel's edge, else the TCP peer. */
export function clientAddress(request: Request): string {
  const stated = config().onVercel
    ? (request.headers.get("x-vercel-forwarded-for")?.split(",")[0] ?? request.headers.get("x-real-ip"))
    : request.headers.get(PEER_ADDRESS_HEADER);
  return stated?.trim().replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, "") || "unknown";
}

const keysOf = (request: Request) => ({ address: `gap:admin-failures:address:${clientAddress(request)}`, everywhere: "gap:admin-failures:everywhere" });

function tooMany(): ApiError {
  return new ApiError("TOO_MANY_REQUESTS", "too many wrong tokens from this address: try again later", { "retry-after": String(SIGN_IN_LIMITS.windowSeconds) });
}

export function unauthorized(): ApiError {
  return new ApiError("UNAUTHORIZED", "sign in with the admin token, or send Authorization: Bearer <ADMIN_TOKEN>", { "www-authenticate": "Bearer" });
}

/**
 * Passes when `given` is ADMIN_TOKEN; a wrong token is counted and refused with 401 (slowed
 * once many have come from everywhere); an address past its limit is refused with 429 unread.
 */
export async function requireAdminToken(request: Request, given: string): Promise<void> {
  adminToken();
  const keys = keysOf(request);
  const [fromAddress, fromEverywhere] = await cacheStore()
    .mget([keys.address, keys.everywhere])
    .catch((error: unknown) => {
      log.warn("the admin token's limiter could not be read: the cache store failed", { error });
      return [null, null];
    });
  if (Number(fromAddress ?? 0) >= SIGN_IN_LIMITS.perAddress) throw tooMany();
  if (isAdminToken(given)) return;
  await Promise.all([keys.address, keys.everywhere].map((key) => cacheStore().increment(key, SIGN_IN_LIMITS.windowSeconds))).catch((error: unknown) =>
    log.warn("a wrong admin token could not be counted: the cache store failed", { error }),
  );
  if (Number(fromEverywhere ?? 0) >= SIGN_IN_LIMITS.everywhere) await new Promise((resolve) => setTimeout(resolve, SIGN_IN_LIMITS.slowdownMs));
  throw unauthorized();
}
