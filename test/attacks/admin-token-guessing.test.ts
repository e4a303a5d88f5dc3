/**
 * Guessing the admin token: every way it is presented (sign-in, `Authorization: Bearer` on
 * /api/ops/* and /api/admin/mode) is counted by one limiter, per TCP peer address, which no
 * header the client sends can change; many guesses from everywhere slow wrong tokens but never
 * lock the right one out.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clientAddress, PEER_ADDRESS_HEADER, SIGN_IN_LIMITS } from "../../lib/http/admin-token.js";
import { useConfig } from "../harness/config.js";
import { requestFrom, serve, type RunningServer } from "../harness/http.js";

const ADMIN = "guessing-admin-token-0123456789";
let server: RunningServer;

beforeAll(async () => {
  await useConfig({ ADMIN_TOKEN: ADMIN });
  server = await serve();
});
afterAll(async () => {
  await useConfig({ VERCEL: "" });
  await server.close();
});

type Way = "sign-in" | "ops bearer" | "admin bearer";

/** One try of `token` the given way, from `address`, with any extra headers the attacker chooses. */
async function attempt(way: Way, token: string, address: string, extra: Record<string, string> = {}): Promise<number> {
  const url = (pathname: string) => `${server.baseUrl}${pathname}`;
  const answer =
    way === "sign-in"
      ? await requestFrom(address, url("/api/ops/session"), {
          method: "POST",
          headers: { "content-type": "application/json", origin: server.baseUrl, ...extra },
          body: JSON.stringify({ token }),
        })
      : way === "ops bearer"
        ? await requestFrom(address, url("/api/ops/overview"), { headers: { authorization: `Bearer ${token}`, ...extra } })
        : await requestFrom(address, url("/api/admin/mode"), { headers: { authorization: `Bearer ${token}`, ...extra } });
  return answer.status;
}

describe("one limiter for every way the admin token is presented", () => {
  for (const [index, way] of (["ops bearer", "admin bearer"] as const).entries()) {
    it(`${way}: five wrong tokens from one address, then 429 even for the right one; other addresses unaffected`, async () => {
      const address = `127.0.3.${index + 1}`;
      for (let i = 0; i < SIGN_IN_LIMITS.perAddress; i++) expect(await attempt(way, `wrong-${i}-0123456789`, address)).toBe(401);
      expect(await attempt(way, ADMIN, address)).toBe(429);
      expect(await attempt(way, ADMIN, `127.0.3.${index + 101}`)).toBe(200);
    });
  }

  it("counts sign-ins and bearer guesses together", async () => {
    const address = "127.0.3.10";
    const ways: Way[] = ["sign-in", "ops bearer", "admin bearer", "sign-in", "ops bearer"];
    for (const [i, way] of ways.entries()) expect(await attempt(way, `wrong-${i}-0123456789`, address)).toBe(401);
    for (const way of ["sign-in", "ops bearer", "admin bearer"] as const) expect(await attempt(way, ADMIN, address)).toBe(429);
  });
});

describe("the address is the peer's, never one the client states", () => {
  it("rotating X-Forwarded-For, X-Real-IP or the peer header itself earns no further guesses", async () => {
    const address = "127.0.4.1";
    for (let i = 0; i < SIGN_IN_LIMITS.perAddress + 3; i++) {
      const forged = { "x-forwarded-for": `198.51.100.${i}`, "x-real-ip": `198.51.100.${i}`, [PEER_ADDRESS_HEADER]: `127.0.9.${i}` };
      expect(await attempt("ops bearer", `wrong-${i}-0123456789`, address, forged)).toBe(i < SIGN_IN_LIMITS.perAddress ? 401 : 429);
    }
    // The forged addresses were never charged: the right token from them passes.
    expect(await attempt("ops bearer", ADMIN, "127.0.9.0")).toBe(200);
  });

  it("an address stated as '*' or 'everywhere' is only itself, not the global count", async () => {
    for (const stated of ["*", "everywhere", "unknown"]) {
      for (let i = 0; i < SIGN_IN_LIMITS.perAddress; i++) await attempt("sign-in", `wrong-${i}-0123456789`, "127.0.4.2", { "x-forwarded-for": stated });
    }
    expect(await attempt("sign-in", ADMIN, "127.0.4.3", { "x-forwarded-for": "*" })).toBe(200);
  });

  it("on Vercel, the address is the one its edge sets (x-vercel-forwarded-for), never X-Forwarded-For", async () => {
    await useConfig({ ADMIN_TOKEN: ADMIN, VERCEL: "1" });
    const request = (headers: Record<string, string>) => new Request("https://ops.example/api/ops/overview", { headers });
    expect(clientAddress(request({ "x-vercel-forwarded-for": "203.0.113.9", "x-forwarded-for": "198.51.100.1" }))).toBe("203.0.113.9");
    expect(clientAddress(request({ "x-real-ip": "203.0.113.10", "x-forwarded-for": "198.51.100.1" }))).toBe("203.0.113.10");
    expect(clientAddress(request({ "x-forwarded-for": "198.51.100.1", [PEER_ADDRESS_HEADER]: "198.51.100.2" }))).toBe("unknown");
    await useConfig({ ADMIN_TOKEN: ADMIN, VERCEL: "" });
    expect(clientAddress(request({ "x-vercel-forwarded-for": "203.0.113.9", [PEER_ADDRESS_HEADER]: "::ffff:127.0.0.5" }))).toBe("127.0.0.5");
  });
});

describe("guesses from everywhere", () => {
  it("past the global count, wrong tokens are slowed, and the right token still signs in at once", async () => {
    // Spread over many addresses, none past its own limit.
    const addresses = Array.from({ length: SIGN_IN_LIMITS.everywhere / (SIGN_IN_LIMITS.perAddress - 1) + 1 }, (_, i) => `127.0.5.${i + 1}`);
    for (const address of addresses) {
      for (let i = 0; i < SIGN_IN_LIMITS.perAddress - 1; i++) await attempt("sign-in", `wrong-${i}-0123456789`, address);
    }
    const started = performance.now();
    expect(await attempt("sign-in", "one-more-wrong-0123456789", "127.0.6.1")).toBe(401);
    const slowedBy = performance.now() - started;
    expect(slowedBy).toBeGreaterThanOrEqual(SIGN_IN_LIMITS.slowdownMs - 50);

    // The right token is neither refused nor slowed, from a new address or one that guessed.
    for (const address of ["127.0.6.2", addresses[0] ?? ""]) {
      const at = performance.now();
      expect(await attempt("sign-in", ADMIN, address)).toBe(200);
      expect(performance.now() - at).toBeLessThan(SIGN_IN_LIMITS.slowdownMs);
    }
  });
});
