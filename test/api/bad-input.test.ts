/**
 * Garbage and hostile input at every endpoint: never a 5xx, always the JSON error shape,
 * and SQL injection strings change nothing.
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { directDb } from "../../lib/db/pool.js";
import { seededDemo, type DemoCallers } from "../harness/demo.js";
import { serve, type RunningServer } from "../harness/http.js";

let server: RunningServer;
let callers: DemoCallers;
let agentId: string;
let conversationId: string;

beforeAll(async () => {
  callers = await seededDemo();
  server = await serve();
  const [agent] = await directDb()`select id from agents where organization_id = md5('org:1')::uuid order by id limit 1`;
  const [conversation] = await directDb()`select id from conversations where organization_id = md5('org:1')::uuid order by id limit 1`;
  agentId = agent?.id;
  conversationId = conversation?.id;
});
afterAll(() => server.close());

const INJECTIONS = [
  "' or '1'='1",
  "'; drop table agents; --",
  "1; delete from conversation_messages",
  '") or true --',
  "00000000-0000-4000-8000-000000000000' or 1=1 --",
  "$1",
  "%27%20or%201%3D1",
  "\\'; select pg_sleep(5); --",
  "1' union select id, organization_id from agents --",
];

interface Probe {
  method: string;
  path: string;
  body?: string;
  contentType?: string;
  authorization?: string;
}

async function send(probe: Probe): Promise<{ status: number; body: string; type: string | null }> {
  const headers: Record<string, string> = {};
  if (probe.authorization !== undefined) headers.authorization = probe.authorization;
  if (probe.contentType !== undefined) headers["content-type"] = probe.contentType;
  const response = await fetch(`${server.baseUrl}${probe.path}`, { method: probe.method, headers, body: probe.body });
  return { status: response.status, body: await response.text(), type: response.headers.get("content-type") };
}

function expectHandled(probe: Probe, response: { status: number; body: string; type: string | null }): void {
  expect(response.status, JSON.stringify(probe)).toBeLessThan(500);
  if (response.status >= 400 && probe.method !== "HEAD") {
    expect(response.type).toContain("application/json");
    const parsed = JSON.parse(response.body) as { error?: { code?: string; message?: string } };
    expect(typeof parsed.error?.code).toBe("string");
    expect(typeof parsed.error?.message).toBe("string");
  }
}

/** Strings that have broken servers before: NUL (PostgreSQL text refuses it), lone surrogates, huge ones. */
const tricky = fc.oneof(
  fc.constantFrom("\u0000", "a\u0000b", "\ud800", "\udfff", "\uffff", "null", "{}", "[]", ...INJECTIONS),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: "binary", maxLength: 40 }),
);

const segment = fc.oneof(
  fc.constantFrom("00000000-0000-4000-8000-000000000000", "not-a-uuid", "", "..", "%00", "%E0%A4%A", ...INJECTIONS.map(encodeURIComponent)),
  fc.string({ maxLength: 40 }).map(encodeURIComponent),
  fc.uuid(),
);
const queryValue = fc.oneof(
  fc.constantFrom("0", "1", "100", "101", "1000000000", "-5", "1e3", "NaN", "exact", "active", "q".repeat(17_000), ...INJECTIONS),
  fc.string({ maxLength: 300 }),
  tricky,
);
const query = fc
  .array(fc.tuple(fc.constantFrom("limit", "cursor", "count", "status", "id", "x"), queryValue), { maxLength: 4 })
  .map((pairs) => (pairs.length ? `?${new URLSearchParams(pairs).toString()}` : ""));
const authorization = fc.oneof(
  fc.constant<string | undefined>(undefined),
  fc.constantFrom("Bearer", "Bearer x.y.z", "Basic abc", "bearer  "),
  fc.string({ maxLength: 60 }).map((s) => `Bearer ${s}`),
);
const jsonValue = fc.jsonValue({ maxDepth: 3 }).map((value) => JSON.stringify(value));
const body = fc.oneof(
  jsonValue,
  fc.string({ maxLength: 200 }),
  fc
    .record(
      {
        name: fc.oneof(tricky, fc.integer()),
        status: fc.oneof(fc.constantFrom("active", "bogus"), fc.integer()),
        model: tricky,
        config: fc.oneof(fc.object(), fc.dictionary(fc.string(), tricky), fc.array(fc.integer()), tricky),
        system_prompt: fc.oneof(tricky, fc.constant("p".repeat(100_001))),
      },
      { requiredKeys: [] },
    )
    .map((value) => JSON.stringify(value)),
);

/** Bodies whose fields are each valid apart from their strings, so the strings reach the database. */
const plausibleBody = fc
  .record(
    {
      name: tricky.filter((value) => value.length > 0 && value.length <= 200),
      status: fc.constantFrom("draft", "active", "paused", "archived"),
      model: tricky.filter((value) => value.length > 0 && value.length <= 100),
      system_prompt: tricky,
      config: fc.dictionary(tricky, fc.oneof(tricky, fc.integer(), fc.boolean())),
    },
    { requiredKeys: [] },
  )
  .map((value) => JSON.stringify(value));

describe("generated garbage at every endpoint", () => {
  it("never gets a 5xx", async () => {
    vi.spyOn(console, "error").mockImplementation(() => undefined);
    const validToken = fc.constant(`Bearer ${callers.demo.token}`);
    const probe = fc.record({
      method: fc.constantFrom("GET", "PATCH", "POST", "DELETE", "HEAD"),
      route: fc.constantFrom("agents/", "agents", "conversations/", "health"),
      id: segment,
      tail: fc.constantFrom("", "/messages", "/messages/extra"),
      query,
      authorization: fc.oneof(validToken, authorization),
      body,
      contentType: fc.constantFrom("application/json", "text/plain", "application/json; charset=utf-8", undefined),
    });
    await fc.assert(
      fc.asyncProperty(probe, async (p) => {
        const path = `/api/${p.route}${p.route.endsWith("/") ? p.id : ""}${p.route === "conversations/" ? p.tail : ""}${p.query}`;
        const request: Probe = {
          method: p.method,
          path,
          authorization: p.authorization,
          ...(p.method === "PATCH" || p.method === "POST" ? { body: p.body, contentType: p.contentType } : {}),
        };
        expectHandled(request, await send(request));
      }),
      { numRuns: 300 },
    );
    vi.restoreAllMocks();
  });

  it("never gets a 5xx from a valid caller's garbage body on a real agent", async () => {
    vi.spyOn(console, "error").mockImplementation(() => undefined);
    await fc.assert(
      fc.asyncProperty(fc.oneof(body, plausibleBody), async (generated) => {
        const request: Probe = {
          method: "PATCH",
          path: `/api/agents/${agentId}`,
          authorization: `Bearer ${callers.demo.token}`,
          contentType: "application/json",
          body: generated,
        };
        expectHandled(request, await send(request));
      }),
      { numRuns: 300 },
    );
    vi.restoreAllMocks();
  });

  it("never gets a 5xx from a valid caller's garbage query on real listings", async () => {
    vi.spyOn(console, "error").mockImplementation(() => undefined);
    const listing = fc.constantFrom("/api/agents", `/api/conversations/${conversationId}/messages`);
    await fc.assert(
      fc.asyncProperty(listing, query, async (path, generated) => {
        const request: Probe = { method: "GET", path: `${path}${generated}`, authorization: `Bearer ${callers.demo.token}` };
        expectHandled(request, await send(request));
      }),
      { numRuns: 300 },
    );
    vi.restoreAllMocks();
  });
});

describe("SQL injection strings in every parameter", () => {
  async function fingerprint(): Promise<string> {
    const [row] = await directDb()`
      select md5(string_agg(t.n::text, ',')) as digest from (
        select count(*) as n from agents union all select count(*) from conversation_messages
        union all select count(*) from organizations union all select count(*) from organization_members
      ) t`;
    return row?.digest;
  }

  it("changes nothing and is answered as ordinary bad input", async () => {
    const before = await fingerprint();
    const auth = `Bearer ${callers.demo.token}`;
    for (const injection of INJECTIONS) {
      const value = encodeURIComponent(injection);
      const probes: Probe[] = [
        { method: "GET", path: `/api/agents/${value}`, authorization: auth },
        { method: "GET", path: `/api/agents?status=${value}`, authorization: auth },
        { method: "GET", path: `/api/agents?limit=${value}`, authorization: auth },
        { method: "GET", path: `/api/agents?cursor=${value}`, authorization: auth },
        { method: "GET", path: `/api/conversations/${value}/messages`, authorization: auth },
        { method: "GET", path: `/api/conversations/${conversationId}/messages?cursor=${value}`, authorization: auth },
        { method: "GET", path: `/api/conversations/${conversationId}/messages?limit=${value}`, authorization: auth },
        { method: "GET", path: `/api/agents/${agentId}`, authorization: `Bearer ${injection}` },
        { method: "PATCH", path: `/api/agents/${value}`, authorization: auth, contentType: "application/json", body: '{"name":"x"}' },
        { method: "PATCH", path: `/api/agents/${agentId}`, authorization: auth, contentType: "application/json", body: JSON.stringify({ status: injection }) },
      ];
      for (const probe of probes) {
        const response = await send(probe);
        expectHandled(probe, response);
        expect([400, 401, 404], `${probe.method} ${probe.path}`).toContain(response.status);
      }
    }
    expect(await fingerprint()).toBe(before);
  });

  it("stores an injection string given as a value literally", async () => {
    const name = INJECTIONS[1] ?? "";
    const response = await send({
      method: "PATCH",
      path: `/api/agents/${agentId}`,
      authorization: `Bearer ${callers.demo.token}`,
      contentType: "application/json",
      body: JSON.stringify({ name, system_prompt: INJECTIONS.join("\n") }),
    });
    expect(response.status).toBe(200);
    const [row] = await directDb()`select name, system_prompt from agents where id = ${agentId}`;
    expect(row).toEqual({ name, system_prompt: INJECTIONS.join("\n") });
    const [tables] = await directDb()`select count(*)::int as n from pg_tables where tablename = 'agents'`;
    expect(tables?.n).toBe(1);
  });
});

describe("bodies the README promises to refuse", () => {
  const patch = (body: string | Uint8Array, contentType = "application/json") =>
    fetch(`${server.baseUrl}/api/agents/${agentId}`, {
      method: "PATCH",
      headers: { authorization: `Bearer ${callers.demo.token}`, "content-type": contentType },
      body,
    }).then(async (response) => ({ status: response.status, body: (await response.json()) as { error?: { code: string; message: string }; name?: string } }));

  it("refuses config nested 4,000 levels deep (8 KB) with a 400, not a 500, and stores nothing", async () => {
    vi.spyOn(console, "error").mockImplementation(() => undefined);
    const [before] = await directDb()`select config from agents where id = ${agentId}`;
    const deep = `{"config":${'{"a":'.repeat(4000)}1${"}".repeat(4000)}}`;
    expect(await patch(deep)).toEqual({
      status: 400,
      body: { error: expect.objectContaining({ code: "BAD_REQUEST", message: "body must be nested at most 64 levels deep" }) },
    });
    const arrays = `{"config":{"a":${"[".repeat(100)}${"]".repeat(100)}}}`;
    expect((await patch(arrays)).status).toBe(400);
    const [after] = await directDb()`select config from agents where id = ${agentId}`;
    expect(after?.config).toEqual(before?.config);
    const fine = `{"config":${'{"a":'.repeat(60)}1${"}".repeat(60)}}`;
    expect((await patch(fine)).status).toBe(200);
    vi.restoreAllMocks();
  });

  it("refuses invalid UTF-8 instead of storing U+FFFD", async () => {
    const bytes = Buffer.concat([Buffer.from('{"name":"caf'), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]);
    expect(await patch(bytes)).toEqual({ status: 400, body: { error: expect.objectContaining({ code: "BAD_REQUEST", message: "body is not valid UTF-8" }) } });
    const [row] = await directDb()`select name from agents where id = ${agentId}`;
    expect(row?.name).not.toContain("\ufffd");
  });

  it("refuses a declared charset other than UTF-8 with 415, and takes UTF-8 spelled any way", async () => {
    expect(await patch(Buffer.from('{"name":"caf\xe9"}', "latin1"), "application/json; charset=iso-8859-1")).toEqual({
      status: 415,
      body: { error: expect.objectContaining({ code: "UNSUPPORTED_MEDIA_TYPE", message: "body must be UTF-8 JSON: charset=iso-8859-1 is not accepted" }) },
    });
    expect((await patch('{"name":"café"}', 'application/json; charset="UTF-8"')).status).toBe(200);
  });

  it.each([
    ['{"config":{"limit":9007199254740993}}', "config.limit must be a number that can be stored exactly (9007199254740993 cannot)"],
    ['{"config":{"big":1e309}}', "config.big must be a number that can be stored exactly (1e309 cannot)"],
    ['{"config":{"list":[1,{"x":0.10000000000000000001}]}}', "config.list.1.x must be a number that can be stored exactly (0.10000000000000000001 cannot)"],
    ['{"config":{"a":1,"a":2}}', "body is not valid JSON: the key 'a' appears twice in one object"],
  ])("refuses %s, naming the field, rather than change it", async (body, message) => {
    expect(await patch(body)).toEqual({ status: 400, body: { error: expect.objectContaining({ code: "BAD_REQUEST", message }) } });
  });

  it("stores numbers a double carries exactly as they were sent", async () => {
    const response = await patch('{"config":{"temperature":0.2,"max":9007199254740991,"tiny":1e-7,"whole":1.0}}');
    expect(response.status).toBe(200);
    const [row] = await directDb()`select config::text as config from agents where id = ${agentId}`;
    expect(JSON.parse(row?.config)).toEqual({ temperature: 0.2, max: 9007199254740991, tiny: 1e-7, whole: 1 });
  });
});

describe("requests node:http cannot take", () => {
  it("answers a URL over 16 KB 431 HEADERS_TOO_LARGE in the JSON error shape", async () => {
    const response = await fetch(`${server.baseUrl}/api/agents?status=${"q".repeat(17_000)}`, { headers: { authorization: `Bearer ${callers.demo.token}` } });
    expect(response.status).toBe(431);
    expect(await response.json()).toMatchObject({ error: { code: "HEADERS_TOO_LARGE", message: "URL and headers must be at most 16 KB" } });
  });
});
