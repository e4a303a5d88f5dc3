/**
 * The dashboard's session: a cookie holding a short JWT (HS256) signed with a key derived from
 * ADMIN_TOKEN, so rotating the token signs everyone out. The JWT names its session (jti), which
 * the server keeps (lib/data/dashboard-sessions.ts) and can end: signing out ends it for good. HttpOnly (no script reads it),
 * SameSite=Strict (no other site's page sends it), Secure on https, scoped to /api/ops,
 * expiring after 12 hours.
 */
import { createHmac, randomUUID } from "node:crypto";
import { jwtVerify, SignJWT } from "jose";

export const SESSION_COOKIE = "gap_ops_session";
export const SESSION_SECONDS = 12 * 3600;
const AUDIENCE = "gap-ops";
const COOKIE_PATH = "/api/ops";

function signingKey(adminToken: string): Uint8Array {
  return createHmac("sha256", adminToken).update("gap ops session v1").digest();
}

/** A session: its id (the JWT's jti) and when it ends. */
export interface Session {
  id: string;
  expiresAt: Date;
}

/** A new session starting `now`, valid for SESSION_SECONDS. */
export function newSession(now: Date = new Date()): Session {
  return { id: randomUUID(), expiresAt: new Date(Math.floor(now.getTime() / 1000) * 1000 + SESSION_SECONDS * 1000) };
}

/** The signed token of `session`. */
export async function sessionToken(adminToken: string, session: Session): Promise<string> {
  const expiresAt = Math.floor(session.expiresAt.getTime() / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg: "HS256" })
    .setAudience(AUDIENCE)
    .setJti(session.id)
    .setIssuedAt(expiresAt - SESSION_SECONDS)
    .setExpirationTime(expiresAt)
    .sign(signingKey(adminToken));
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * The session a token names, or undefined for a token that is forged, expired, signed under
 * another ADMIN_TOKEN or names no session. Whether the session is still open is the server's
 * to say (lib/data/dashboard-sessions.ts).
 */
export async function sessionOfToken(adminToken: string, token: string, now: Date = new Date()): Promise<Session | undefined> {
  try {
    const { payload } = await jwtVerify(token, signingKey(adminToken), { audience: AUDIENCE, algorithms: ["HS256"], currentDate: now });
    if (payload.exp === undefined || typeof payload.jti !== "string" || !UUID.test(payload.jti)) return undefined;
    return { id: payload.jti, expiresAt: new Date(payload.exp * 1000) };
  } catch {
    return undefined;
  }
}

/**
 * A cookie the page may read, holding no secret: when the session ends (Unix seconds). The
 * page asks for data only while it is there, so a signed-out visit costs no 401.
 */
export const SIGNED_IN_COOKIE = "gap_ops_signed_in";

/** The Set-Cookie values of a session carrying `token`: the session itself, and the page's hint. */
export function sessionCookies(token: string, expiresAt: Date, { secure }: { secure: boolean }): string[] {
  const flags = `Max-Age=${SESSION_SECONDS}; SameSite=Strict${secure ? "; Secure" : ""}`;
  return [
    `${SESSION_COOKIE}=${token}; Path=${COOKIE_PATH}; ${flags}; HttpOnly`,
    `${SIGNED_IN_COOKIE}=${Math.floor(expiresAt.getTime() / 1000)}; Path=/; ${flags}`,
  ];
}

/** The Set-Cookie values that end the session. */
export function clearedSessionCookies({ secure }: { secure: boolean }): string[] {
  const flags = `Max-Age=0; SameSite=Strict${secure ? "; Secure" : ""}`;
  return [`${SESSION_COOKIE}=; Path=${COOKIE_PATH}; ${flags}; HttpOnly`, `${SIGNED_IN_COOKIE}=; Path=/; ${flags}`];
}

/** The session cookie's value in a Cookie header, or undefined. */
export function sessionCookieOf(header: string | null): string | undefined {
  for (const part of (header ?? "").split(";")) {
    const at = part.indexOf("=");
    if (at !== -1 && part.slice(0, at).trim() === SESSION_COOKIE) return part.slice(at + 1).trim() || undefined;
  }
  return undefined;
}
