/**
 * The dashboard's session: a cookie holding a short JWT (HS256) signed with a key derived from
 * ADMIN_TOKEN, so rotating the token signs everyone out. HttpOnly (no script reads it),
 * SameSite=Strict (no other site's page sends it), Secure on https, scoped to /api/ops,
 * expiring after 12 hours.
 */
import { createHmac } from "node:crypto";
import { jwtVerify, SignJWT } from "jose";

export const SESSION_COOKIE = "gap_ops_session";
export const SESSION_SECONDS = 12 * 3600;
const AUDIENCE = "gap-ops";
const COOKIE_PATH = "/api/ops";

function signingKey(adminToken: string): Uint8Array {
  return createHmac("sha256", adminToken).update("gap ops session v1").digest();
}

/** A session token valid for SESSION_SECONDS from `now`. */
export async function sessionToken(adminToken: string, now: Date = new Date()): Promise<string> {
  const issuedAt = Math.floor(now.getTime() / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg: "HS256" })
    .setAudience(AUDIENCE)
    .setIssuedAt(issuedAt)
    .setExpirationTime(issuedAt + SESSION_SECONDS)
    .sign(signingKey(adminToken));
}

/** When the session ends, or undefined for a token that is forged, expired or signed under another ADMIN_TOKEN. */
export async function sessionExpiry(adminToken: string, token: string, now: Date = new Date()): Promise<Date | undefined> {
  try {
    const { payload } = await jwtVerify(token, signingKey(adminToken), { audience: AUDIENCE, algorithms: ["HS256"], currentDate: now });
    return payload.exp === undefined ? undefined : new Date(payload.exp * 1000);
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
  return [`${SESSION_COOKIE}=${token}; Path=${COOKIE_PATH}; ${flags}; HttpOnly`, `${SIGNED_IN_COOKIE}=${Math.floor(expiresAt.getTime() / 1000)}; Path=/; ${flags}`];
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
