/**
 * Supabase-style access tokens (HS256 with the project's JWT secret), as the local platform
 * hands out for its demo user. Verification lives with the endpoints that need it.
 */
import { SignJWT } from "jose";

export interface AccessTokenClaims {
  userId: string;
  email?: string;
  ttlSeconds?: number;
}

/** A signed access token carrying the claims Supabase Auth puts in one. */
export async function signedAccessToken(secret: string, { userId, email, ttlSeconds = 86_400 }: AccessTokenClaims): Promise<string> {
  return new SignJWT({ role: "authenticated", ...(email ? { email } : {}) })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(userId)
    .setAudience("authenticated")
    .setIssuedAt()
    .setExpirationTime(`${ttlSeconds}s`)
    .sign(new TextEncoder().encode(secret));
}
