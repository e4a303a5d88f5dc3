/**
 * Security headers cannot be dodged by spelling a path another way: a path that names a file
 * by an escape, an empty segment or a backslash is refused (400, the one error shape), and
 * every page that is served carries vercel.json's headers.
 */
import { request } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isCanonicalPath } from "../../lib/server/static.js";
import { serve, type RunningServer } from "../harness/http.js";

let server: RunningServer;
beforeAll(async () => {
  server = await serve();
});
afterAll(() => server.close());

/** A GET sent as written (fetch would normalize the path first). */
function rawGet(pathname: string): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  const { hostname, port } = new URL(server.baseUrl);
  return new Promise((resolve, reject) => {
    request({ hostname, port, path: pathname, method: "GET" }, (response) => {
      let body = "";
      response.on("data", (chunk: Buffer) => (body += chunk.toString()));
      response.on("end", () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body }));
    })
      .on("error", reject)
      .end();
  });
}

const SPELLINGS = [
  "/%64ashboard/index.html",
  "/%44ashboard/index.html",
  "/dashboard%2Findex.html",
  "/dashboard%2findex.html",
  "/%2Fdashboard/index.html",
  "//dashboard/index.html",
  "/dashboard//index.html",
  "//dashboard",
  "/dash%62oard/app.js",
  "/dashboard/%61pp.js",
  "/dashboard/app%2Ejs",
  "/dashboard\\index.html",
  "/%5Cdashboard/index.html",
  "/dashboard/index%2ehtml",
  "//api/ops/overview",
  "/api/%6Fps/overview",
];

describe("a path spelled another way", () => {
  it.each(SPELLINGS)("%s: never the dashboard without its headers", async (pathname) => {
    const answer = await rawGet(pathname);
    const servedPage = answer.status === 200;
    if (servedPage) {
      // Only acceptable if the headers came along.
      expect(answer.headers["content-security-policy"], pathname).toMatch(/frame-ancestors 'none'/);
      expect(answer.headers["x-frame-options"], pathname).toBe("DENY");
    }
    expect(answer.status, pathname).toBeGreaterThanOrEqual(400);
    expect(answer.status, pathname).toBeLessThan(500);
    expect(JSON.parse(answer.body), pathname).toMatchObject({ error: { code: expect.stringMatching(/^(BAD_REQUEST|NOT_FOUND)$/) } });
    expect(answer.headers["content-type"]).toMatch(/^application\/json/);
  });

  it("the canonical spellings still serve the dashboard, under its headers", async () => {
    for (const pathname of ["/dashboard", "/dashboard/index.html", "/dashboard/app.js", "/dashboard/./index.html", "/x/../dashboard/index.html"]) {
      const answer = await rawGet(pathname);
      expect(answer.status, pathname).toBe(200);
      expect(answer.headers["content-security-policy"], pathname).toMatch(/frame-ancestors 'none'/);
      expect(answer.headers["x-frame-options"], pathname).toBe("DENY");
      expect(answer.headers["x-content-type-options"], pathname).toBe("nosniff");
    }
  });

  it("judges escapes by what they encode", () => {
    expect(isCanonicalPath("/dashboard/index.html")).toBe(true);
    // An escape that is needed (a space, a non-ASCII byte, a percent sign) is no other spelling.
    expect(isCanonicalPath("/api/agents/a%20b")).toBe(true);
    expect(isCanonicalPath("/api/agents/%C3%BC")).toBe(true);
    expect(isCanonicalPath("/api/agents/%25")).toBe(true);
    for (const letter of "AZaz09-._~/") {
      const hex = letter.charCodeAt(0).toString(16);
      expect(isCanonicalPath(`/x%${hex}`), letter).toBe(false);
      expect(isCanonicalPath(`/x%${hex.toUpperCase()}`), letter).toBe(false);
    }
  });
});
