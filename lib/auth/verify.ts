/**
 * Verifies a Supabase access token: HS256 tokens with the project's JWT secret, asymmetric
 * ones (RS256, ES256) with the project's JWKS, the way Supabase Auth issues either.
 * Every failure is one AuthError with a reason the caller may see.
 */
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from "jose";
import { config } from "../config.js";

export class AuthError extends Error {
  override name = "AuthError";
}

/** The signing keys could not be fetched: not the caller's fault, retry later. */
export class AuthUnavailableError extends Error {
  override name = "AuthUnavailableError";
}

export interface Caller {
  userId: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const ASYMMETRIC = ["RS256", "ES256", "EdDSA"];

let jwks: { url: string; keys: JWTVerifyGetKey } | undefined;

function remoteKeys(url: string): JWTVerifyGetKey {
  if (jwks?.url !== url) jwks = { url, keys: createRemoteJWKSet(new URL(url), { timeoutDuration: 2000, cooldownDuration: 30_000 }) };
  return jwks.keys;
}

/** The bearer token of an `Authorization` header, or an AuthError saying what is wrong with it. */
export function bearerToken(header: string | null): string {
  if (!header) throw new AuthError("Authorization header is missing");
  const match = /^Bearer\s+(\S+)$/i.exec(header.trim());
  if (!match?.[1]) throw new AuthError("Authorization header must be 'Bearer <access token>'");
  return match[1];
}

async function verifiedPayload(token: string): Promise<JWTPayload> {
  let algorithm: string | undefined;
  try {
    algorithm = decodeProtectedHeader(token).alg;
  } catch {
    throw new AuthError("access token is malformed");
  }
  const { jwtSecret, jwksUrl } = config().supabase;
  const options = { audience: "authenticated", requiredClaims: ["sub", "exp"] };
  if (algorithm === "HS256") {
    if (!jwtSecret) throw new AuthError("HS256 access tokens are not accepted here");
    return (await jwtVerify(token, new TextEncoder().encode(jwtSecret), { ...options, algorithms: ["HS256"] })).payload;
  }
  if (algorithm && ASYMMETRIC.includes(algorithm) && jwksUrl) {
    return (await jwtVerify(token, remoteKeys(jwksUrl), { ...options, algorithms: ASYMMETRIC })).payload;
  }
  throw new AuthError(`access tokens signed with ${algorithm ?? "no algorithm"} are not accepted here`);
}

function reasonOf(error: unknown): string {
  if (error instanceof AuthError) return error.message;
  const code = (error as { code?: unknown }).code;
  switch (code) {
    case "ERR_JWT_EXPIRED":
      return "access token has expired";
    case "ERR_JWT_CLAIM_VALIDATION_FAILED":
      return `access token claim is invalid: ${(error as { claim?: string }).claim ?? "unknown"}`;
    case "ERR_JWS_SIGNATURE_VERIFICATION_FAILED":
    case "ERR_JWKS_NO_MATCHING_KEY":
      return "access token signature is invalid";
    default:
      return "access token is invalid";
  }
}

/** The caller a request's `Authorization` header proves, or an AuthError. */
export async function authenticatedCaller(authorization: string | null): Promise<Caller> {
  const token = bearerToken(authorization);
  let payload: JWTPayload;
  try {
    payload = await verifiedPayload(token);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === "ERR_JWKS_TIMEOUT" || error instanceof TypeError) {
      throw new AuthUnavailableError("the signing keys of access tokens could not be fetched, retry shortly");
    }
    throw new AuthError(reasonOf(error));
  }
  if (payload.role !== "authenticated") throw new AuthError("access token role must be 'authenticated'");
  if (typeof payload.sub !== "string" || !UUID.test(payload.sub)) throw new AuthError("access token subject must be a user id");
  return { userId: payload.sub.toLowerCase() };
}
