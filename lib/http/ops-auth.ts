/**
 * Who may use /api/ops/*: a signed-in dashboard (the session cookie) or a machine with
 * `Authorization: Bearer <ADMIN_TOKEN>`. A change made with the cookie must also come from the
 * dashboard's own origin; signing in with a wrong token is counted, and too many wrong tokens
 * from one address (or from everywhere) are refused for a while before the token is even read.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { sessionCookieOf, sessionExpiry, sessionToken } from "../auth/ops-session.js";
import { bearerOf } from "../auth/verify.js";
import { cacheStore } from "../cache/store.js";
import { config, ConfigError } from "../config.js";
import { ApiError } from "./errors.js";
import { requireBearer } from "./bearer.js";

/** Wrong tokens allowed per window from one address, and from all addresses together. */
export const SIGN_IN_LIMITS = { perAddress: 5, everywhere: 50, windowSeconds: 15 * 60 } as const;

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

function unauthorized(): ApiError {
  return new ApiError("UNAUTHORIZED", "sign in with the admin token, or send Authorization: Bearer <ADMIN_TOKEN>", { "www-authenticate": "Bearer" });
}

/** Whether the request comes from this deployment's own pages: its Origin is the request's origin (or PUBLIC_URL's). */
function sameOrigin(request: Request): boolean {
  const origin = request.headers.get("origin");
  if (!origin) return false;
  const allowed = [new URL(request.url).origin, config().publicUrl && new URL(config().publicUrl ?? "").origin];
  return allowed.includes(origin);
}

export type OpsAccess = "read" | "change";

/**
 * Passes for a valid session cookie or the bearer admin token; a change with the cookie must
 * come from the same origin (403 otherwise). 401 without either; 503 when ADMIN_TOKEN is unset.
 */
export async function requireOps(request: Request, access: OpsAccess = "read"): Promise<void> {
  const token = adminToken();
  if (bearerOf(request.headers.get("authorization"))) {
    requireBearer(request, token, "ADMIN_TOKEN");
    return;
  }
  const cookie = sessionCookieOf(request.headers.get("cookie"));
  if (!cookie || !(await sessionExpiry(token, cookie))) throw unauthorized();
  if (access === "change" && !sameOrigin(request)) throw new ApiError("FORBIDDEN", "a change must come from the dashboard's own origin");
}

/** The client's address as Vercel reports it (its edge overwrites x-forwarded-for), else "unknown". */
function addressOf(request: Request): string {
  return request.headers.get("x-forwarded-for")?.split(",")[0]?.trim() || request.headers.get("x-real-ip")?.trim() || "unknown";
}

const failureKeys = (request: Request) => [`gap:sign-in-failures:${addressOf(request)}`, "gap:sign-in-failures:*"];

function tooMany(): ApiError {
  return new ApiError("TOO_MANY_REQUESTS", "too many wrong tokens: try again later", { "retry-after": String(SIGN_IN_LIMITS.windowSeconds) });
}

/**
 * A session token for the right admin token from the dashboard's origin. A wrong token is a
 * 401 that says nothing more, and counts; past the limits, 429 before the token is compared.
 */
export async function signedIn(request: Request, given: string): Promise<string> {
  const token = adminToken();
  if (request.headers.get("origin") !== null && !sameOrigin(request)) throw new ApiError("FORBIDDEN", "sign in from the dashboard's own origin");
  const [address, everywhere] = failureKeys(request) as [string, string];
  const [fromAddress, fromEverywhere] = await cacheStore()
    .mget([address, everywhere])
    .catch(() => [null, null]);
  if (Number(fromAddress ?? 0) >= SIGN_IN_LIMITS.perAddress || Number(fromEverywhere ?? 0) >= SIGN_IN_LIMITS.everywhere) throw tooMany();
  if (!isAdminToken(given)) {
    await Promise.all([address, everywhere].map((key) => cacheStore().increment(key, SIGN_IN_LIMITS.windowSeconds))).catch(() => undefined);
    throw unauthorized();
  }
  return sessionToken(token);
}

/** Whether the session cookie of the request is valid, and until when. */
export async function sessionOfRequest(request: Request): Promise<Date | undefined> {
  const cookie = sessionCookieOf(request.headers.get("cookie"));
  return cookie ? sessionExpiry(adminToken(), cookie) : undefined;
}

/** A dashboard answer: JSON never kept by a cache on the way. */
export function privateJson(data: unknown, init: ResponseInit = {}): Response {
  const headers = new Headers(init.headers);
  headers.set("cache-control", "no-store");
  return Response.json(data, { ...init, headers });
}
