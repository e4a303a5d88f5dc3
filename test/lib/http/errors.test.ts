import { describe, expect, it, vi } from "vitest";
import { ConfigError, overrideConfig } from "../../../lib/config.js";
import { DbUnavailableError } from "../../../lib/db/errors.js";
import { ApiError, errorResponse, RETRY_AFTER_SECONDS } from "../../../lib/http/errors.js";
import { route } from "../../../lib/http/route.js";
import { AuthError } from "../../../lib/auth/errors.js";
import { BackupIntegrityError, BackupToolError, RestoreRefusedError } from "../../../lib/backups/errors.js";
import { SessionSignalError } from "../../../lib/db/errors.js";
import { RecoveryRefusedError } from "../../../lib/recovery/errors.js";

describe("errorResponse", () => {
  it("answers every error of the platform by its code, with its message and headers; only an unavailable service is logged", async () => {
    const logged = vi.spyOn(console, "error").mockImplementation(() => undefined);
    const cases: Array<[Error, number, string, Record<string, string>?]> = [
      [new BackupIntegrityError("the archive's SHA-256 does not match"), 422, "BACKUP_REJECTED"],
      [new RestoreRefusedError("the target is not empty"), 409, "RESTORE_REFUSED"],
      [new RecoveryRefusedError("no such organization"), 409, "RESTORE_REFUSED"],
      [new SessionSignalError("no session 12", "not-found"), 404, "NOT_FOUND"],
      [new SessionSignalError("that is a server process"), 409, "SIGNAL_REFUSED"],
      [new AuthError("token expired"), 401, "UNAUTHORIZED", { "www-authenticate": 'Bearer error="invalid_token"' }],
      [new ApiError("MAINTENANCE", "The platform is in maintenance", { "retry-after": "30" }), 503, "MAINTENANCE", { "retry-after": "30" }],
      [new BackupToolError("pg_dump 15 or later is needed"), 503, "SERVICE_UNAVAILABLE"],
    ];
    for (const [error, status, code, headers = {}] of cases) {
      const response = errorResponse(error, "req-0");
      expect(response.status, error.name).toBe(status);
      expect(await response.json()).toEqual({ error: { code, message: error.message, request_id: "req-0" } });
      for (const [name, value] of Object.entries(headers)) expect(response.headers.get(name)).toBe(value);
    }
    expect(logged.mock.calls.map((call) => (JSON.parse(String(call[0])) as { error: { name: string } }).error.name)).toEqual(["BackupToolError"]);
    vi.restoreAllMocks();
  });

  it("maps an unavailable database to 503 with Retry-After", async () => {
    vi.spyOn(console, "error").mockImplementation(() => undefined);
    const response = errorResponse(new DbUnavailableError("The database is unavailable, retry shortly", "POOL_TIMEOUT"), "req-1");
    expect(response.status).toBe(503);
    expect(response.headers.get("retry-after")).toBe(String(RETRY_AFTER_SECONDS));
    expect(await response.json()).toEqual({
      error: { code: "SERVICE_UNAVAILABLE", message: "The database is unavailable, retry shortly", request_id: "req-1" },
    });
    vi.restoreAllMocks();
  });

  it("logs why the database was unavailable: the reason and the driver's code", async () => {
    const logged = vi.spyOn(console, "error").mockImplementation(() => undefined);
    errorResponse(new DbUnavailableError("No database connection became free in time, retry shortly", "POOL_TIMEOUT"), "req-6");
    const refused = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), { code: "ECONNREFUSED" });
    errorResponse(refused, "req-7");
    const lines = logged.mock.calls.map((call) => JSON.parse(String(call[0])) as { error: Record<string, unknown> });
    expect(lines[0]?.error).toMatchObject({ name: "DbUnavailableError", code: "SERVICE_UNAVAILABLE", reason: "POOL_TIMEOUT" });
    expect(lines[1]?.error).toMatchObject({ name: "Error", code: "ECONNREFUSED" });
    vi.restoreAllMocks();
  });

  it("maps a driver's raw connection error (a path that did not classify it) to 503 too", async () => {
    vi.spyOn(console, "error").mockImplementation(() => undefined);
    const refused = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), { code: "ECONNREFUSED" });
    const response = errorResponse(refused, "req-5");
    expect(response.status).toBe(503);
    expect(await response.json()).toEqual({
      error: { code: "SERVICE_UNAVAILABLE", message: "The database is unavailable, retry shortly", request_id: "req-5" },
    });
    vi.restoreAllMocks();
  });

  it("keeps an ApiError's status and message", async () => {
    const response = errorResponse(new ApiError("BAD_REQUEST", "limit must be at most 100"), "req-2");
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: { code: "BAD_REQUEST", message: "limit must be at most 100" } });
  });

  it("hides the message of an unexpected error behind a generic 500, and logs it", async () => {
    const logged = vi.spyOn(console, "error").mockImplementation(() => undefined);
    const response = errorResponse(new Error("relation secret_table does not exist"), "req-3");
    expect(response.status).toBe(500);
    const body = JSON.stringify(await response.json());
    expect(body).not.toContain("secret_table");
    expect(logged.mock.calls.flat().join(" ")).toContain("req-3");
    logged.mockRestore();
  });

  it("answers a missing configuration with 503, naming no secret", async () => {
    vi.spyOn(console, "error").mockImplementation(() => undefined);
    const response = errorResponse(new ConfigError("Invalid configuration: DATABASE_URL must be set"), "req-4");
    expect(response.status).toBe(503);
    vi.restoreAllMocks();
  });
});

describe("every error class of lib/", () => {
  it("answers the one error shape with its own status, never the generic 500", async () => {
    vi.spyOn(console, "error").mockImplementation(() => undefined);
    const modules = [
      await import("../../../lib/auth/errors.js"),
      await import("../../../lib/backups/errors.js"),
      await import("../../../lib/db/errors.js"),
      await import("../../../lib/jobs/errors.js"),
      { ConfigError },
    ];
    type ErrorClass = new (message: string, reason?: string) => Error;
    const classes = modules
      .flatMap((module) => Object.values(module) as unknown[])
      .filter((value): value is ErrorClass => typeof value === "function" && (value as { prototype?: unknown }).prototype instanceof Error);
    expect(classes.length).toBeGreaterThanOrEqual(13);
    for (const ErrorClass of classes) {
      const response = errorResponse(new ErrorClass("what went wrong", "REASON"), "req-8");
      expect(response.status, ErrorClass.name).not.toBe(500);
      expect(await response.json(), ErrorClass.name).toMatchObject({ error: { code: expect.any(String), message: expect.any(String), request_id: "req-8" } });
    }
    vi.restoreAllMocks();
  });
});

describe("route", () => {
  it("stamps error responses with the request id, taking Vercel's only on Vercel, where a client cannot set it", async () => {
    const refusing = route(async () => {
      throw new ApiError("BAD_REQUEST", "no");
    });
    overrideConfig({ VERCEL: "1" });
    const response = await refusing(new Request("http://x/api/t", { headers: { "x-vercel-id": "fra1::abc" } }));
    expect(response.headers.get("x-request-id")).toBe("fra1::abc");
    expect(await response.json()).toMatchObject({ error: { request_id: "fra1::abc" } });
    const forged = await refusing(new Request("http://x/api/t", { headers: { "x-vercel-id": "<script>alert(1)</script>" } }));
    expect(forged.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
    overrideConfig({ VERCEL: "" });
    const elsewhere = await refusing(new Request("http://x/api/t", { headers: { "x-vercel-id": "fra1::chosen-by-client" } }));
    expect(elsewhere.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
    const failing = route(async () => {
      throw new ApiError("NOT_FOUND", "Agent not found");
    });
    const notFound = await failing(new Request("http://x/api/t"));
    expect(notFound.status).toBe(404);
    const body = (await notFound.json()) as { error: { request_id: string } };
    expect(body.error.request_id).toBe(notFound.headers.get("x-request-id"));
  });
});
