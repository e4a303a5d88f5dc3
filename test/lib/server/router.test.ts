import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { discoverRoutes, matchRoute, routeMatcher } from "../../../lib/server/router.js";
import { MAX_BODY_BYTES } from "../../../lib/server/server.js";
import { API_DIR, serve, type RunningServer } from "../../harness/http.js";

const FIXTURES = fileURLToPath(new URL("../../fixtures/api/", import.meta.url));

describe("discoverRoutes", () => {
  it("maps files to Vercel's routes, static before dynamic, skipping _ files", async () => {
    const routes = await discoverRoutes(FIXTURES);
    expect(routes.map((r) => r.pattern)).toEqual(["/api/agents", "/api/echo", "/api/throws", "/api/agents/search", "/api/agents/[id]", "/api/files/[...path]"]);
  });

  it("serves every function of the project's own api/ folder", async () => {
    const routes = await discoverRoutes(API_DIR);
    expect(routes.map((r) => r.pattern)).toContain("/api/health");
  });

  it("matches dynamic segments and decodes them", async () => {
    const routes = await discoverRoutes(FIXTURES);
    expect(matchRoute(routes, "/api/agents/search")?.route.pattern).toBe("/api/agents/search");
    expect(matchRoute(routes, "/api/agents/a%20b")?.params).toEqual([["id", "a b"]]);
    expect(matchRoute(routes, "/api/agents/")?.route.pattern).toBe("/api/agents");
    expect(matchRoute(routes, "/api/files/a/b/c")?.params).toEqual([["path", "a/b/c"]]);
    expect(matchRoute(routes, "/api/agents/1/2")).toBeUndefined();
    expect(matchRoute(routes, "/api/agents/%E0%A4%A")).toBeUndefined();
  });

  it("routeMatcher answers as matchRoute does, the second time from memory, and stays bounded", async () => {
    const routes = await discoverRoutes(FIXTURES);
    const routeOf = routeMatcher(routes);
    const paths = [
      "/api/agents/search",
      "/api/agents/a%20b",
      "/api/agents/",
      "/api/files/a/b/c",
      "/api/agents/1/2",
      "/api/agents/%E0%A4%A",
      `/api/agents/${"x".repeat(300)}`,
    ];
    for (const path of paths) {
      expect(routeOf(path)).toEqual(matchRoute(routes, path));
      expect(routeOf(path)).toEqual(matchRoute(routes, path));
    }
    // The same object the second time: remembered, not matched again.
    expect(routeOf("/api/agents/a%20b")).toBe(routeOf("/api/agents/a%20b"));
    // A long path is matched every time, never kept.
    const long = `/api/agents/${"y".repeat(300)}`;
    expect(routeOf(long)).not.toBe(routeOf(long));
    // Past 1,000 paths it starts afresh, answering the same.
    for (let i = 0; i < 1500; i++) expect(routeOf(`/api/agents/${i}`)?.params).toEqual([["id", String(i)]]);
    expect(routeOf("/api/agents/a%20b")?.params).toEqual([["id", "a b"]]);
  });
});

describe("the local server, over HTTP", () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await serve(FIXTURES);
  });
  afterAll(() => server.close());

  async function json(path: string, init?: RequestInit): Promise<{ status: number; headers: Headers; body: unknown }> {
    const response = await fetch(`${server.baseUrl}${path}`, init);
    return { status: response.status, headers: response.headers, body: await response.json() };
  }

  it("hands a dynamic segment to the handler as a query parameter, after the caller's own", async () => {
    expect((await json("/api/agents/42")).body).toEqual({ route: "agents/[id]", id: ["42"] });
    expect((await json("/api/agents/42?id=forged")).body).toEqual({ route: "agents/[id]", id: ["forged", "42"] });
    expect((await json("/api/files/x/y.txt")).body).toEqual({ route: "files/[...path]", path: "x/y.txt" });
  });

  it("passes the query string, method, headers and body through", async () => {
    expect((await json("/api/echo?a=1&b=2")).body).toEqual({
      route: "echo",
      query: [
        ["a", "1"],
        ["b", "2"],
      ],
    });
    const posted = await json("/api/echo", { method: "POST", body: '{"x":1}', headers: { "content-type": "application/json" } });
    expect(posted.body).toEqual({ route: "echo", body: '{"x":1}', type: "application/json" });
  });

  it("writes status, headers and cookies back", async () => {
    const response = await fetch(`${server.baseUrl}/api/agents/1`, { method: "PATCH" });
    expect(response.status).toBe(204);
    expect(response.headers.getSetCookie()).toEqual(["a=1"]);
  });

  it("answers unknown paths with 404 and unexported methods with 405 and Allow, as JSON", async () => {
    const missing = await json("/api/nothing/here");
    expect(missing.status).toBe(404);
    expect(missing.body).toMatchObject({ error: { code: "NOT_FOUND" } });
    const wrongMethod = await json("/api/agents", { method: "DELETE" });
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get("allow")).toBe("GET");
    expect(wrongMethod.body).toMatchObject({ error: { code: "METHOD_NOT_ALLOWED" } });
    expect((await json("/api/_helper")).status).toBe(404);
  });

  it("refuses a body over Vercel's 4.5 MB limit with 413", async () => {
    const big = await json("/api/echo", { method: "POST", body: "x".repeat(MAX_BODY_BYTES + 1) });
    expect(big.status).toBe(413);
    expect(big.body).toMatchObject({ error: { code: "PAYLOAD_TOO_LARGE" } });
  });

  it("turns a handler that throws into a generic JSON 500 without its message", async () => {
    const logged = vi.spyOn(console, "error").mockImplementation(() => undefined);
    const failed = await json("/api/throws");
    expect(failed.status).toBe(500);
    expect(JSON.stringify(failed.body)).not.toContain("secret detail");
    logged.mockRestore();
  });

  it("answers HEAD from the GET handler without a body", async () => {
    const response = await fetch(`${server.baseUrl}/api/agents`, { method: "HEAD" });
    expect(response.status).toBe(200);
    expect(await response.text()).toBe("");
  });
});
