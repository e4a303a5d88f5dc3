import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { directDb, observeQueries } from "../../lib/db/pool.js";
import { seededDemo, type DemoCallers } from "../harness/demo.js";
import { serve, type RunningServer } from "../harness/http.js";
import { customToken } from "../harness/tokens.js";

let server: RunningServer;
let callers: DemoCallers;
const statements: string[] = [];

beforeAll(async () => {
  observeQueries((role, query) => {
    if (role === "request") statements.push(query);
  });
  callers = await seededDemo();
  server = await serve();
});
afterAll(async () => {
  observeQueries(undefined);
  await server.close();
});

async function call(path: string, token: string | null, init: RequestInit = {}) {
  const headers = new Headers(init.headers);
  if (token) headers.set("authorization", `Bearer ${token}`);
  const response = await fetch(`${server.baseUrl}${path}`, { ...init, headers });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : undefined };
}

async function agentOf(organizationSlug: string, offset = 0): Promise<string> {
  const [row] = await directDb()`
    select a.id from agents a join organizations o on o.id = a.organization_id
    where o.slug = ${organizationSlug} order by a.created_at, a.id offset ${offset} limit 1`;
  return row?.id;
}

/** Statements the request pool sent while `run` ran. */
async function statementsDuring(run: () => Promise<unknown>): Promise<string[]> {
  const before = statements.length;
  await run();
  return statements.slice(before);
}

describe("GET /api/agents/:id", () => {
  it("returns the agent with its workflows in position order, from one statement, then from the cache with none", async () => {
    const id = await agentOf("demo-org-1");
    let first: Awaited<ReturnType<typeof call>> | undefined;
    const missStatements = await statementsDuring(async () => {
      first = await call(`/api/agents/${id}`, callers.demo.token);
    });
    expect(first?.status).toBe(200);
    expect(first?.headers.get("x-cache")).toBe("miss");
    expect(Object.keys(first?.body)).toEqual([
      "id",
      "organization_id",
      "name",
      "status",
      "model",
      "system_prompt",
      "config",
      "created_at",
      "updated_at",
      "workflows",
    ]);
    expect(first?.body.id).toBe(id);
    expect(first?.body.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    expect(first?.body.workflows.map((w: { position: number }) => w.position)).toEqual([0, 1, 2]);
    expect(missStatements.filter((q) => /from agents a/.test(q))).toHaveLength(1);
    expect(missStatements.filter((q) => /agent_workflows/.test(q) && !/from agents a/.test(q))).toEqual([]);

    let second: Awaited<ReturnType<typeof call>> | undefined;
    const hitStatements = await statementsDuring(async () => {
      second = await call(`/api/agents/${id}`, callers.demo.token);
    });
    expect(second?.headers.get("x-cache")).toBe("hit");
    expect(second?.body).toEqual(first?.body);
    expect(hitStatements).toEqual([]);
  });

  it("answers another organization's agent exactly like one that does not exist, even once cached", async () => {
    const foreign = await agentOf("demo-org-3");
    await call(`/api/agents/${foreign}`, callers.outsider.token); // now cached
    const hidden = await call(`/api/agents/${foreign}`, callers.demo.token);
    const missing = await call("/api/agents/00000000-0000-4000-8000-000000000000", callers.demo.token);
    expect(hidden.status).toBe(404);
    expect(missing.status).toBe(404);
    expect({ ...hidden.body.error, request_id: "" }).toEqual({ ...missing.body.error, request_id: "" });
  });

  it("remembers a missing id briefly: the second lookup makes no query", async () => {
    const id = "00000000-0000-4000-8000-00000000abcd";
    await call(`/api/agents/${id}`, callers.demo.token);
    const again = await statementsDuring(() => call(`/api/agents/${id}`, callers.demo.token));
    expect(again).toEqual([]);
  });

  it("refuses callers without a valid token with 401", async () => {
    const id = await agentOf("demo-org-1");
    expect((await call(`/api/agents/${id}`, null)).status).toBe(401);
    const forged = await customToken({ sub: callers.demo.userId, aud: "authenticated", role: "authenticated" }, { secret: "not-the-secret-0123456789" });
    const refused = await call(`/api/agents/${id}`, forged);
    expect(refused.status).toBe(401);
    expect(refused.headers.get("www-authenticate")).toContain("Bearer");
    expect(refused.body.error.code).toBe("UNAUTHORIZED");
  });

  it("answers a non-uuid id with 400 naming the field", async () => {
    const response = await call("/api/agents/42", callers.demo.token);
    expect(response.status).toBe(400);
    expect(response.body.error.message).toBe("id must be a UUID");
  });
});

describe("PATCH /api/agents/:id", () => {
  const json = (body: unknown) => ({ method: "PATCH", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

  it("updates the fields given and drops the cache entry before answering", async () => {
    const id = await agentOf("demo-org-1", 1);
    await call(`/api/agents/${id}`, callers.demo.token);
    expect((await call(`/api/agents/${id}`, callers.demo.token)).headers.get("x-cache")).toBe("hit");

    const changes = { name: "Renamed", status: "paused", config: { temperature: 0.5, tools: [] } };
    const updated = await call(`/api/agents/${id}`, callers.demo.token, json(changes));
    expect(updated.status).toBe(200);
    expect(updated.body).toMatchObject(changes);
    expect(updated.body.updated_at > updated.body.created_at).toBe(true);

    const next = await call(`/api/agents/${id}`, callers.demo.token);
    expect(next.headers.get("x-cache")).toBe("miss");
    expect(next.body).toEqual(updated.body);
  });

  it.each([
    [{ name: "x", owner: "me" }, 400, "unknown field: owner"],
    [{}, 400, "body must change at least one field"],
    [{ status: "deleted" }, 400, "status must be one of draft, active, paused, archived"],
    [{ name: 5 }, 400, "name must be a string"],
    [{ name: "" }, 400, "name must be at least 1 characters"],
    [{ config: [] }, 400, "config must be a JSON object"],
    [{ system_prompt: "a\u0000b" }, 400, "system_prompt must be valid Unicode without the NUL character"],
    [{ config: { k: "\u0000" } }, 400, "config must be valid Unicode without the NUL character"],
    [{ config: { "\ud800": 0 } }, 400, "config must be valid Unicode without the NUL character"],
    [{ name: "half \udc00 pair" }, 400, "name must be valid Unicode without the NUL character"],
    [[1, 2], 400, "body must be a JSON object"],
    ["just a string", 400, "body must be a JSON object"],
  ])("refuses %j with %i", async (body, status, message) => {
    const id = await agentOf("demo-org-1", 2);
    const response = await call(`/api/agents/${id}`, callers.demo.token, json(body));
    expect(response.status).toBe(status);
    expect(response.body.error.message).toContain(message);
  });

  it("refuses invalid JSON, other media types and oversized bodies", async () => {
    const id = await agentOf("demo-org-1", 2);
    const invalid = await call(`/api/agents/${id}`, callers.demo.token, { method: "PATCH", headers: { "content-type": "application/json" }, body: "{name:" });
    expect([invalid.status, invalid.body.error.message]).toEqual([400, "body is not valid JSON"]);
    const form = await call(`/api/agents/${id}`, callers.demo.token, { method: "PATCH", headers: { "content-type": "text/plain" }, body: "name=x" });
    expect(form.status).toBe(415);
    const huge = await call(`/api/agents/${id}`, callers.demo.token, json({ system_prompt: "x".repeat(300 * 1024) }));
    expect(huge.status).toBe(413);
  });

  it("leaves another organization's agent untouched and answers 404", async () => {
    const foreign = await agentOf("demo-org-3");
    const response = await call(`/api/agents/${foreign}`, callers.demo.token, json({ name: "Hijacked" }));
    expect(response.status).toBe(404);
    const [row] = await directDb()`select name from agents where id = ${foreign}`;
    expect(row?.name).not.toBe("Hijacked");
  });
});

describe("GET /api/agents", () => {
  async function walk(token: string, query: string, limit: number): Promise<string[]> {
    const ids: string[] = [];
    let cursor: string | null = null;
    do {
      const page = await call(`/api/agents?limit=${limit}${query}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`, token);
      expect(page.status).toBe(200);
      expect(page.body.data.length).toBeLessThanOrEqual(limit);
      ids.push(...page.body.data.map((a: { id: string }) => a.id));
      cursor = page.body.next_cursor;
      expect(page.body.has_more).toBe(cursor !== null);
    } while (cursor);
    return ids;
  }

  it("pages through the caller's organizations' agents, newest first, each once", async () => {
    const expected = await directDb()`
      select a.id from agents a
      where a.organization_id in (select organization_id from organization_members where user_id = ${callers.demo.userId})
      order by a.created_at desc, a.id desc`;
    expect(expected.length).toBeGreaterThan(3);
    expect(await walk(callers.demo.token, "", 3)).toEqual(expected.map((r) => r.id));
  });

  it("filters by status, and refuses a cursor of another listing", async () => {
    const active = await directDb()`
      select a.id from agents a
      where a.status = 'active'
        and a.organization_id in (select organization_id from organization_members where user_id = ${callers.demo.userId})
      order by a.created_at desc, a.id desc`;
    expect(await walk(callers.demo.token, "&status=active", 2)).toEqual(active.map((r) => r.id));
    const first = await call("/api/agents?limit=1&status=active", callers.demo.token);
    const crossed = await call(`/api/agents?limit=1&cursor=${first.body.next_cursor}`, callers.demo.token);
    expect([crossed.status, crossed.body.error.message]).toEqual([400, "cursor is invalid: pass next_cursor from the previous page unchanged"]);
  });

  it.each(["limit=0", "limit=101", "limit=1000000000", "limit=abc", "limit=-1", "status=gone", "limit=1&limit=2"])(
    "refuses %s with 400 naming the field",
    async (query) => {
      const response = await call(`/api/agents?${query}`, callers.demo.token);
      expect(response.status).toBe(400);
      expect(response.body.error.message).toMatch(/^(limit|status)/);
    },
  );

  it("shows an outsider only their own organization's agents", async () => {
    const ids = await walk(callers.outsider.token, "", 100);
    const [foreign] = await directDb()`
      select count(*)::int as n from agents where id in ${directDb()(ids)} and organization_id <> md5('org:3')::uuid`;
    expect(ids.length).toBeGreaterThan(0);
    expect(foreign?.n).toBe(0);
  });
});
