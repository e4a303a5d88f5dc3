/**
 * Verifies a Supabase access token: HS256 tokens with the project's JWT secret, asymmetric
 * ones (RS256, ES256) with the project's JWKS, the way Supabase Auth issues either.
 * Every failure is one AuthError with a reason the caller may see.
 */
import { webcrypto } from "node:crypto";
// jose's entry points one by one: its index loads every part of it (JWE, key generation, ...)
// into every cold start of a path that verifies a token.
import { decodeProtectedHeader } from "jose/decode/protected_header";
import { createRemoteJWKSet } from "jose/jwks/remote";
import { jwtVerify, type JWTVerifyGetKey } from "jose/jwt/verify";
import type { JWTPayload } from "jose";
import { isCanonicalBase64url } from "../base64url.js";
import { config } from "../config.js";
import { AuthError, AuthUnavailableError } from "./errors.js";
import { UUID_PATTERN } from "../uuid.js";

export interface Caller {
  userId: string;
}

const ASYMMETRIC = ["RS256", "ES256", "EdDSA"];

let jwks: { url: string; keys: JWTVerifyGetKey } | undefined;

function remoteKeys(url: string): JWTVerifyGetKey {
  if (jwks?.url !== url) jwks = { url, keys: createRemoteJWKSet(new URL(url), { timeoutDuration: 2000, cooldownDuration: 30_000 }) };
  return jwks.keys;
}

/** The token of an `Authorization: Bearer <token>` header, or undefined. */
export function bearerOf(header: string | null): string | undefined {
  return /^Bearer\s+(\S+)$/i.exec(header?.trim() ?? "")?.[1];
}

/** The bearer token of an `Authorization` header, or an AuthError saying what is wrong with it. */
function bearerToken(header: string | null): string {
  if (!header) throw new AuthError("Authorization header is missing");
  const token = bearerOf(header);
  if (!token) throw new AuthError("Authorization header must be 'Bearer <access token>'");
  return token;
}

/** Keys and verified tokens of one configuration: a changed secret starts afresh. */
interface Verifier {
  hmacKey: Promise<webcrypto.CryptoKey> | undefined;
  /** Verified tokens until their `exp`, oldest first, at most VERIFIED_TOKENS_KEPT. */
  verified: Map<string, { caller: Caller; expiresAtMs: number }>;
}

const VERIFIED_TOKENS_KEPT = 10_000;
const MAX_TOKEN_LENGTH = 8192;
const verifiers = new WeakMap<object, Verifier>();

function verifier(): Verifier {
  const cfg = config();
  let current = verifiers.get(cfg);
  if (!current) {
    const secret = cfg.supabase.jwtSecret;
    current = {
      hmacKey: secret ? webcrypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["verify"]) : undefined,
      verified: new Map(),
    };
    verifiers.set(cfg, current);
  }
  return current;
}

async function verifiedPayload(token: string): Promise<JWTPayload> {
  let algorithm: string | undefined;
  try {
    algorithm = decodeProtectedHeader(token).alg;
  } catch {
    throw new AuthError("access token is malformed");
  }
  const { jwksUrl } = config().supabase;
  const options = { audience: "authenticated", requiredClaims: ["sub", "exp"] };
  if (algorithm === "HS256") {
    const key = verifier().hmacKey;
    if (!key) throw new AuthError("HS256 access tokens are not accepted here");
    return (await jwtVerify(token, await key, { ...options, algorithms: ["HS256"] })).payload;
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

/**
 * The caller a request's `Authorization` header proves, or an AuthError. A token verified
 * once is taken again without its signature check until it expires: the hot path then
 * costs a map lookup, not a key import and an HMAC.
 */
export async function authenticatedCaller(authorization: string | null): Promise<Caller> {
  const token = bearerToken(authorization);
  const { verified } = verifier();
  // A token remembered is this exact string, which passed every check below when it was first verified.
  const known = verified.get(token);
  if (known && known.expiresAtMs > Date.now()) return known.caller;
  if (known) verified.delete(token);
  // One token, one spelling: a signature re-spelled in its last character's unused bits verifies too.
  if (token.length > MAX_TOKEN_LENGTH || !token.split(".").every(isCanonicalBase64url)) throw new AuthError("access token is malformed");
  return callerOf(token);
}

async function callerOf(token: string): Promise<Caller> {
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
  if (typeof payload.sub !== "string" || !UUID_PATTERN.test(payload.sub)) throw new AuthError("access token subject must be a user id");
  const caller = { userId: payload.sub.toLowerCase() };
  remember(token, caller, (payload.exp ?? 0) * 1000);
  return caller;
}

function remember(token: string, caller: Caller, expiresAtMs: number): void {
  const { verified } = verifier();
  if (verified.size >= VERIFIED_TOKENS_KEPT) {
    const oldest = verified.keys().next().value;
    if (oldest !== undefined) verified.delete(oldest);
  }
  verified.set(token, { caller, expiresAtMs });
}
