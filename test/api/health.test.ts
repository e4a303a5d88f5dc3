import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { TEST_DATABASE_URL } from "../harness/file-database.js";
import { useConfig } from "../harness/config.js";
import { serve, type RunningServer } from "../harness/http.js";

let server: RunningServer;
beforeAll(async () => {
  server = await serve();
});
afterAll(() => server.close());

describe("GET /api/health", () => {
  it("answers 200 with the database and cache parts when the database is up", async () => {
    const response = await fetch(`${server.baseUrl}/api/health`);
    expect(response.status).toBe(200);
    expect(response.headers.get("cache-control")).toBe("no-store");
    const body = await response.json();
    expect(body).toEqual({
      status: "ok",
      mode: "normal",
      db: { ok: true, latency_ms: expect.any(Number) },
      cache: { driver: "memory", ok: true, latency_ms: expect.any(Number) },
    });
  });

  it("answers 503 naming the database when it cannot be reached, and recovers when it can", async () => {
    vi.spyOn(console, "error").mockImplementation(() => undefined);
    const closed = new URL(TEST_DATABASE_URL);
    closed.port = "1";
    await useConfig({ DATABASE_URL: closed.toString(), DB_CONNECTION_TIMEOUT: "500" });
    const down = await fetch(`${server.baseUrl}/api/health`);
    expect(down.status).toBe(503);
    const body = await down.json();
    expect(body).toMatchObject({ status: "down", db: { ok: false, error: expect.stringContaining("unavailable") } });
    expect(JSON.stringify(body)).not.toContain(closed.password);

    await useConfig({ DATABASE_URL: TEST_DATABASE_URL, DB_CONNECTION_TIMEOUT: "" });
    expect((await fetch(`${server.baseUrl}/api/health`)).status).toBe(200);
    vi.restoreAllMocks();
  });

  it("answers 503 naming the missing variable when no database is configured", async () => {
    await useConfig({ DATABASE_URL: "" });
    const response = await fetch(`${server.baseUrl}/api/health`);
    expect(response.status).toBe(503);
    expect(await response.json()).toMatchObject({ db: { ok: false, error: expect.stringContaining("DATABASE_URL") } });
    await useConfig({ DATABASE_URL: TEST_DATABASE_URL });
  });

  it("refuses other methods with 405", async () => {
    expect((await fetch(`${server.baseUrl}/api/health`, { method: "POST" })).status).toBe(405);
  });
});
