import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AuthError, AuthUnavailableError } from "../../../lib/auth/errors.js";
import { authenticatedCaller } from "../../../lib/auth/verify.js";
import { useConfig } from "../../harness/config.js";
import { customToken, TEST_JWT_SECRET, tokenFor } from "../../harness/tokens.js";

const USER = "8d2b7a4e-2c1f-4a57-9a3b-1f0e2d3c4b5a";

async function reason(authorization: string | null): Promise<string> {
  const error = await authenticatedCaller(authorization).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(AuthError);
  return (error as Error).message;
}

describe("authenticatedCaller with the HS256 JWT secret", () => {
  beforeAll(() => useConfig({ SUPABASE_JWT_SECRET: TEST_JWT_SECRET, SUPABASE_JWKS_URL: "", NEXT_PUBLIC_SUPABASE_URL: "" }));

  it("accepts a Supabase access token and names its user", async () => {
    expect(await authenticatedCaller(`Bearer ${await tokenFor(USER)}`)).toEqual({ userId: USER });
  });

  it.each([
    [null, "Authorization header is missing"],
    ["", "Authorization header is missing"],
    ["Basic dXNlcjpwYXNz", "must be 'Bearer <access token>'"],
    ["Bearer", "must be 'Bearer <access token>'"],
    ["Bearer not-a-jwt", "access token is malformed"],
    ["Bearer a.b.c", "access token is malformed"],
  ])("refuses the header %j", async (header, expected) => {
    expect(await reason(header)).toContain(expected);
  });

  it("refuses expired, wrongly signed, unsigned and wrongly addressed tokens", async () => {
    const claims = { sub: USER, aud: "authenticated", role: "authenticated" };
    expect(await reason(`Bearer ${await customToken(claims, { expiresIn: "-1m" })}`)).toBe("access token has expired");
    expect(await reason(`Bearer ${await customToken(claims, { secret: "another-secret-0123456789" })}`)).toBe("access token signature is invalid");
    expect(await reason(`Bearer ${await customToken({ ...claims, aud: "anon" })}`)).toBe("access token claim is invalid: aud");
    expect(await reason(`Bearer ${await customToken({ ...claims, role: "anon" })}`)).toBe("access token role must be 'authenticated'");
    expect(await reason(`Bearer ${await customToken({ ...claims, sub: undefined })}`)).toContain("sub");
    expect(await reason(`Bearer ${await customToken({ ...claims, sub: "not-a-uuid" })}`)).toBe("access token subject must be a user id");
    const unsigned = `${Buffer.from('{"alg":"none"}').toString("base64url")}.${Buffer.from(JSON.stringify({ ...claims, exp: 9999999999 })).toString("base64url")}.`;
    expect(await reason(`Bearer ${unsigned}`)).toBe("access tokens signed with none are not accepted here");
  });

  it("takes one spelling of a token: a signature re-spelled in its unused bits, or padded, is malformed", async () => {
    const token = await tokenFor(USER);
    const [header, payload, signature = ""] = token.split(".");
    // 32 bytes of HMAC in 43 characters leave 2 unused bits in the last one.
    const last = signature.at(-1) ?? "A";
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const respelled = alphabet[alphabet.indexOf(last) ^ 1] ?? last;
    expect(Buffer.from(`${signature.slice(0, -1)}${respelled}`, "base64url").equals(Buffer.from(signature, "base64url"))).toBe(true);
    expect(await reason(`Bearer ${header}.${payload}.${signature.slice(0, -1)}${respelled}`)).toBe("access token is malformed");
    expect(await reason(`Bearer ${header}.${payload}.${signature}=`)).toBe("access token is malformed");
    expect(await authenticatedCaller(`Bearer ${token}`)).toEqual({ userId: USER });
  });

  it("requires exp", async () => {
    const noExp = await new SignJWT({ sub: USER, aud: "authenticated", role: "authenticated" })
      .setProtectedHeader({ alg: "HS256" })
      .sign(new TextEncoder().encode(TEST_JWT_SECRET));
    expect(await reason(`Bearer ${noExp}`)).toContain("exp");
  });
});

describe("authenticatedCaller with the project's JWKS", () => {
  let server: Server;
  let jwksUrl: string;
  let sign: (claims: Record<string, unknown>) => Promise<string>;
  let signWithOtherKey: (claims: Record<string, unknown>) => Promise<string>;

  beforeAll(async () => {
    const { publicKey, privateKey } = await generateKeyPair("ES256");
    const other = await generateKeyPair("ES256");
    const jwk = { ...(await exportJWK(publicKey)), kid: "key-1", alg: "ES256", use: "sig" };
    server = createServer((_request, response) => {
      response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    jwksUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/auth/v1/.well-known/jwks.json`;
    const signer = (key: Parameters<SignJWT["sign"]>[0]) => (claims: Record<string, unknown>) =>
      new SignJWT(claims).setProtectedHeader({ alg: "ES256", kid: "key-1" }).setIssuedAt().setExpirationTime("1h").sign(key);
    sign = signer(privateKey);
    signWithOtherKey = signer(other.privateKey);
    await useConfig({ SUPABASE_JWT_SECRET: "", SUPABASE_JWKS_URL: "", NEXT_PUBLIC_SUPABASE_URL: jwksUrl.replace(/\/auth\/.*$/, "") });
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const claims = { sub: USER, aud: "authenticated", role: "authenticated" };

  it("verifies ES256 tokens with the keys at the JWKS derived from the Supabase URL", async () => {
    expect(await authenticatedCaller(`Bearer ${await sign(claims)}`)).toEqual({ userId: USER });
  });

  it("refuses a token signed by another key, and HS256 tokens when no secret is configured", async () => {
    expect(await reason(`Bearer ${await signWithOtherKey(claims)}`)).toBe("access token signature is invalid");
    expect(await reason(`Bearer ${await tokenFor(USER)}`)).toBe("HS256 access tokens are not accepted here");
  });

  it("answers 'unavailable', not 'unauthorized', when the JWKS cannot be fetched", async () => {
    await useConfig({ SUPABASE_JWKS_URL: "http://127.0.0.1:1/jwks.json" });
    const error = await authenticatedCaller(`Bearer ${await sign(claims)}`).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AuthUnavailableError);
  });
});
