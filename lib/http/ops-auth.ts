/**
 * Who may use /api/ops/*: a signed-in dashboard (the session cookie) or a machine with
 * `Authorization: Bearer <ADMIN_TOKEN>`. A change made with the cookie must also come from the
 * dashboard's own origin. However the token is presented, one limiter counts the wrong ones
 * (admin-token.ts). A cookie is honoured only while the session it names is open in
 * ops.dashboard_sessions: signing out ends it.
 */
import { newSession, sessionCookieOf, sessionOfToken, sessionToken, type Session } from "../auth/ops-session.js";
import { endAllSessions, endSession, openSession, sessionIsOpen } from "../data/dashboard-sessions.js";
import { directDb } from "../db/pool.js";
import { bearerOf } from "../auth/verify.js";
import { config, ConfigError } from "../config.js";
import { requireAdminToken, unauthorized } from "./admin-token.js";
import { ApiError } from "./errors.js";
import { guardedRoute, type Handler, type RequestContext } from "./route.js";

function adminToken(): string {
  const token = config().adminToken;
  if (!token) throw new ConfigError("Invalid configuration: ADMIN_TOKEN must be set");
  return token;
}

/** Passes for `Authorization: Bearer <ADMIN_TOKEN>` (counted by the limiter when wrong); 401 without one. */
export async function requireAdminBearer(request: Request): Promise<void> {
  const given = bearerOf(request.headers.get("authorization"));
  if (given === undefined) {
    adminToken();
    throw unauthorized();
  }
  await requireAdminToken(request, given);
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
    await requireAdminBearer(request);
    return;
  }
  if (!(await openSessionOf(request, token))) throw unauthorized();
  if (access === "change" && !sameOrigin(request)) throw new ApiError("FORBIDDEN", "a change must come from the dashboard's own origin");
}

/** The session the request's cookie names, when its signature holds and the server still has it open. */
async function openSessionOf(request: Request, token: string): Promise<Session | undefined> {
  const cookie = sessionCookieOf(request.headers.get("cookie"));
  const session = cookie ? await sessionOfToken(token, cookie) : undefined;
  return session && (await sessionIsOpen(directDb(), session.id)) ? session : undefined;
}

/** An /api/ops route: the caller is checked (requireOps with `access`) before its input is read. */
export function opsRoute(access: OpsAccess, handle: (request: Request, context: RequestContext) => Promise<Response>): Handler {
  return guardedRoute((request) => requireOps(request, access), handle);
}

/** An /api/admin route: `Authorization: Bearer <ADMIN_TOKEN>` only, checked before its input is read. */
export function adminRoute(handle: (request: Request, context: RequestContext) => Promise<Response>): Handler {
  return guardedRoute(requireAdminBearer, handle);
}

/**
 * A new session for the right admin token from the dashboard's origin (a wrong token is
 * counted, admin-token.ts): its signed token for the cookie, and when it ends.
 */
export async function signedIn(request: Request, given: string): Promise<{ token: string; expiresAt: Date }> {
  const token = adminToken();
  if (request.headers.get("origin") !== null && !sameOrigin(request)) throw new ApiError("FORBIDDEN", "sign in from the dashboard's own origin");
  await requireAdminToken(request, given);
  const session = newSession();
  await openSession(directDb(), session.id, session.expiresAt);
  return { token: await sessionToken(token, session), expiresAt: session.expiresAt };
}

/** The open session of the request's cookie, or undefined. */
export async function sessionOfRequest(request: Request): Promise<Session | undefined> {
  return openSessionOf(request, adminToken());
}

/**
 * Ends the request's own session (its cookie); with `everywhere`, every open session, which
 * takes ops access to change (a signed-in dashboard from its origin, or the bearer admin token).
 * How many sessions ended.
 */
export async function signedOut(request: Request, everywhere: boolean): Promise<number> {
  if (everywhere) {
    await requireOps(request, "change");
    return endAllSessions(directDb());
  }
  const cookie = sessionCookieOf(request.headers.get("cookie"));
  const session = cookie ? await sessionOfToken(adminToken(), cookie) : undefined;
  return session && (await endSession(directDb(), session.id)) ? 1 : 0;
}

/** A dashboard answer: JSON never kept by a cache on the way. */
export function privateJson(data: unknown, init: ResponseInit = {}): Response {
  const headers = new Headers(init.headers);
  headers.set("cache-control", "no-store");
  return Response.json(data, { ...init, headers });
}
