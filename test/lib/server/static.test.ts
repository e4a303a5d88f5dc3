/** The local server does what Vercel does besides the functions: public/ files, vercel.json's rewrites and headers. */
import { request } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serve, type RunningServer } from "../../harness/http.js";

let server: RunningServer;
beforeAll(async () => {
  server = await serve();
});
afterAll(() => server.close());

/** A raw GET (fetch would normalize `..` away before sending). */
function rawGet(pathname: string): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(server.baseUrl);
  return new Promise((resolve, reject) => {
    request({ hostname, port, path: pathname, method: "GET" }, (response) => {
      let body = "";
      response.on("data", (chunk: Buffer) => (body += chunk.toString()));
      response.on("end", () => resolve({ status: response.statusCode ?? 0, body }));
    })
      .on("error", reject)
      .end();
  });
}

describe("static files", () => {
  it("serves /dashboard as its page, under the headers vercel.json sets", async () => {
    const response = await fetch(`${server.baseUrl}/dashboard`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(response.headers.get("content-security-policy")).toMatch(/^default-src 'none'; script-src 'self'/);
    expect(response.headers.get("x-frame-options")).toBe("DENY");
    expect(await response.text()).toContain('<script type="module" src="/dashboard/app.js"></script>');
    const script = await fetch(`${server.baseUrl}/dashboard/app.js`, { method: "HEAD" });
    expect(script.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    expect(Number(script.headers.get("content-length"))).toBeGreaterThan(1000);
  });

  it("serves nothing outside public/, no dotfile and nothing to a POST: a 404 in the one error shape", async () => {
    for (const pathname of ["/../package.json", "/dashboard/../../package.json", "/%2e%2e/package.json", "/.env", "/dashboard/%00", "/nothing-here"]) {
      const answer = await rawGet(pathname);
      expect(answer.status, pathname).toBe(404);
      expect(JSON.parse(answer.body), pathname).toMatchObject({ error: { code: "NOT_FOUND" } });
    }
    expect((await fetch(`${server.baseUrl}/dashboard/app.js`, { method: "POST" })).status).toBe(404);
  });

  it("puts vercel.json's headers on the functions' answers too", async () => {
    const response = await fetch(`${server.baseUrl}/api/ops/overview`);
    // No ADMIN_TOKEN in this file's configuration: the endpoint says it is not configured.
    expect(response.status).toBe(503);
    expect(response.headers.get("x-content-type-options")).toBe("nosniff");
    expect(response.headers.get("referrer-policy")).toBe("no-referrer");
  });
});
