import * as v from "valibot";
import { clearedSessionCookies, sessionCookies } from "../../lib/auth/ops-session.js";
import { ApiError } from "../../lib/http/errors.js";
import { jsonBody, queryOf } from "../../lib/http/input.js";
import { privateJson, sessionOfRequest, signedIn, signedOut } from "../../lib/http/ops-auth.js";
import { route } from "../../lib/http/route.js";

const signIn = v.strictObject({
  token: v.pipe(v.string("must be the admin token"), v.minLength(1, "must be the admin token"), v.maxLength(1024, "must be the admin token")),
});

const signOut = v.strictObject({
  everywhere: v.optional(
    v.pipe(
      v.picklist(["true", "false"], "must be true or false"),
      v.transform((value) => value === "true"),
    ),
    "false",
  ),
});

const secure = (request: Request) => new URL(request.url).protocol === "https:";

/** GET /api/ops/session: until when the session cookie is valid (401 without an open session). */
export const GET = route(async (request) => {
  const session = await sessionOfRequest(request);
  if (!session) throw new ApiError("UNAUTHORIZED", "not signed in", { "www-authenticate": "Bearer" });
  return privateJson({ signedIn: true, expiresAt: session.expiresAt.toISOString() });
});

/** POST /api/ops/session {"token": ADMIN_TOKEN}: signs in, opening a session and setting its cookie (12 h). */
export const POST = route(async (request) => {
  const { token } = await jsonBody(request, signIn, 4096);
  const session = await signedIn(request, token);
  const headers = new Headers();
  for (const cookie of sessionCookies(session.token, session.expiresAt, { secure: secure(request) })) headers.append("set-cookie", cookie);
  return privateJson({ signedIn: true, expiresAt: session.expiresAt.toISOString() }, { headers });
});

/**
 * DELETE /api/ops/session: signs out, ending the cookie's session on the server and removing
 * the cookie. `?everywhere=true` ends every open session (with the cookie from the dashboard,
 * or with Authorization: Bearer <ADMIN_TOKEN>).
 */
export const DELETE = route(async (request) => {
  const { everywhere } = queryOf(request, signOut);
  const ended = await signedOut(request, everywhere);
  const headers = new Headers();
  for (const cookie of clearedSessionCookies({ secure: secure(request) })) headers.append("set-cookie", cookie);
  return privateJson({ signedIn: false, sessionsEnded: ended }, { headers });
});
