/** Access tokens for tests, signed the way Supabase Auth signs them. */
import { SignJWT } from "jose";
import { signedAccessToken } from "../../lib/auth/tokens.js";

export const TEST_JWT_SECRET = "test-jwt-secret-0123456789abcdef";

export function tokenFor(userId: string): Promise<string> {
  return signedAccessToken(TEST_JWT_SECRET, { userId });
}

/** A token with arbitrary claims and header, for the cases a real issuer would never sign. */
export function customToken(claims: Record<string, unknown>, { secret = TEST_JWT_SECRET, expiresIn = "1h" } = {}): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: "HS256", typ: "JWT" }).setIssuedAt().setExpirationTime(expiresIn).sign(new TextEncoder().encode(secret));
}
