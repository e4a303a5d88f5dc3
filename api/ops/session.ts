import * as v from "valibot";
import { clearedSessionCookies, SESSION_SECONDS, sessionCookies } from "../../lib/auth/ops-session.js";
import { ApiError } from "../../lib/http/errors.js";
import { jsonBody } from "../../lib/http/input.js";
import { privateJson, sessionOfRequest, signedIn } from "../../lib/http/ops-auth.js";
import { route } from "../../lib/http/route.js";

const signIn = v.strictObject({
  token: v.pipe(v.string("must be the admin token"), v.minLength(1, "must be the admin token"), v.maxLength(1024, "must be the admin token")),
});

const secure = (request: Request) => new URL(request.url).protocol === "https:";

/** GET /api/ops/session: until when the session cookie is valid (401 without a valid one). */
export const GET = route(async (request) => {
  const expiresAt = await sessionOfRequest(request);
  if (!expiresAt) throw new ApiError("UNAUTHORIZED", "not signed in", { "www-authenticate": "Bearer" });
  return privateJson({ signedIn: true, expiresAt: expiresAt.toISOString() });
});

/** POST /api/ops/session {"token": ADMIN_TOKEN}: signs in, setting the session cookie (12 h). */
export const POST = route(async (request) => {
  const { token } = await jsonBody(request, signIn, 4096);
  const session = await signedIn(request, token);
  const expiresAt = new Date(Date.now() + SESSION_SECONDS * 1000);
  const headers = new Headers();
  for (const cookie of sessionCookies(session, expiresAt, { secure: secure(request) })) headers.append("set-cookie", cookie);
  return privateJson({ signedIn: true, expiresAt: expiresAt.toISOString() }, { headers });
});

/** DELETE /api/ops/session: signs out, removing the cookie. */
export const DELETE = route(async (request) => {
  const headers = new Headers();
  for (const cookie of clearedSessionCookies({ secure: secure(request) })) headers.append("set-cookie", cookie);
  return privateJson({ signedIn: false }, { headers });
});
