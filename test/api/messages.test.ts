import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { messagesPageQuery } from "../../lib/data/messages.js";
import { directDb } from "../../lib/db/pool.js";
import { seededDemo, type DemoCallers } from "../harness/demo.js";
import { serve, type RunningServer } from "../harness/http.js";

let server: RunningServer;
let callers: DemoCallers;

beforeAll(async () => {
  callers = await seededDemo();
  server = await serve();
});
afterAll(() => server.close());

async function call(path: string, token: string | null = callers.demo.token) {
  const response = await fetch(`${server.baseUrl}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  return { status: response.status, body: JSON.parse(await response.text()) };
}

/** A new conversation in the demo user's first organization. */
async function conversation(): Promise<string> {
  const [row] = await directDb()`
    insert into conversations (organization_id, agent_id, customer_id)
    select a.organization_id, a.id, 'cust-test' from agents a where a.organization_id = md5('org:1')::uuid limit 1
    returning id`;
  return row?.id;
}

/**
 * Messages that defeat millisecond cursors: 30 sharing one timestamp exactly, 40 within one
 * millisecond (microseconds apart), 30 a second apart.
 */
async function trickyMessages(conversationId: string): Promise<void> {
  await directDb()`
    insert into conversation_messages (conversation_id, role, content, created_at)
    select ${conversationId}::uuid, 'user', 'same instant ' || n, '2026-03-01T10:00:00.123456Z'::timestamptz
    from generate_series(1, 30) n
    union all
    select ${conversationId}::uuid, 'assistant', 'same millisecond ' || n, '2026-03-01T11:00:00.5Z'::timestamptz + n * interval '1 microsecond'
    from generate_series(1, 40) n
    union all
    select ${conversationId}::uuid, 'user', 'spread ' || n, '2026-03-01T12:00:00Z'::timestamptz + n * interval '1 second'
    from generate_series(1, 30) n`;
}

async function idsInOrder(conversationId: string): Promise<string[]> {
  const rows = await directDb()`
    select id from conversation_messages where conversation_id = ${conversationId} order by created_at desc, id desc`;
  return rows.map((r) => r.id);
}

async function walk(conversationId: string, limit: number, duringWalk?: (page: number) => Promise<void>): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | null = null;
  let page = 0;
  do {
    const response = await call(`/api/conversations/${conversationId}/messages?limit=${limit}${cursor ? `&cursor=${cursor}` : ""}`);
    expect(response.status).toBe(200);
    ids.push(...response.body.data.map((m: { id: string }) => m.id));
    cursor = response.body.next_cursor;
    expect(response.body.has_more).toBe(cursor !== null);
    await duringWalk?.(++page);
  } while (cursor);
  return ids;
}

describe("GET /api/conversations/:id/messages", () => {
  it("walks every message exactly once, newest first, across shared timestamps and sub-millisecond ones", async () => {
    const id = await conversation();
    await trickyMessages(id);
    const walked = await walk(id, 7);
    expect(walked).toHaveLength(100);
    expect(new Set(walked).size).toBe(100);
    expect(walked).toEqual(await idsInOrder(id));
  });

  it("returns each message once even while new ones arrive during the walk", async () => {
    const id = await conversation();
    await trickyMessages(id);
    const before = await idsInOrder(id);
    const walked = await walk(id, 9, async (page) => {
      if (page <= 3) {
        await directDb()`
          insert into conversation_messages (conversation_id, role, content)
          select ${id}, 'user', 'arrived during the walk' from generate_series(1, 5)`;
      }
    });
    expect(walked).toEqual(before);
  });

  it("pages 50 by default and 100 at most, with the total only when asked", async () => {
    const id = await conversation();
    await trickyMessages(id);
    const first = await call(`/api/conversations/${id}/messages`);
    expect(first.body.data).toHaveLength(50);
    expect(first.body).not.toHaveProperty("total");
    expect(Object.keys(first.body.data[0])).toEqual(["id", "conversation_id", "role", "content", "metadata", "created_at"]);
    const all = await call(`/api/conversations/${id}/messages?limit=100&count=exact`);
    expect(all.body).toMatchObject({ has_more: false, next_cursor: null, total: 100 });
    expect(all.body.data).toHaveLength(100);
  });

  it.each([
    ["limit=0", "limit must be a whole number from 1 to 100"],
    ["limit=101", "limit must be a whole number from 1 to 100"],
    ["limit=1000000000", "limit must be a whole number from 1 to 100"],
    ["limit=2.5", "limit must be a whole number from 1 to 100"],
    ["count=estimated", "count must be 'exact' when given"],
    ["cursor=abc", "cursor is invalid"],
  ])("refuses %s with 400 naming the field", async (query, message) => {
    const id = await conversation();
    const response = await call(`/api/conversations/${id}/messages?${query}`);
    expect(response.status).toBe(400);
    expect(response.body.error.message).toContain(message);
  });

  it("refuses forged, truncated and borrowed cursors", async () => {
    const id = await conversation();
    const other = await conversation();
    await trickyMessages(id);
    await trickyMessages(other);
    const { body } = await call(`/api/conversations/${id}/messages?limit=5`);
    const cursor: string = body.next_cursor;
    const [payload, signature] = cursor.split(".");
    const forgedPayload = Buffer.from(JSON.stringify(["2099-01-01T00:00:00.000000Z", "00000000-0000-4000-8000-000000000000"])).toString("base64url");
    const padded = `${cursor}=`;
    for (const bad of [`${forgedPayload}.${signature}`, cursor.slice(0, -3), `${payload}`, `${cursor}.x`, "x".repeat(300), padded]) {
      const response = await call(`/api/conversations/${id}/messages?limit=5&cursor=${encodeURIComponent(bad)}`);
      expect(response.status, bad).toBe(400);
    }
    const borrowed = await call(`/api/conversations/${other}/messages?limit=5&cursor=${cursor}`);
    expect(borrowed.status).toBe(400);
  });

  it("answers another organization's conversation exactly like a missing one", async () => {
    const [foreign] = await directDb()`select id from conversations where organization_id = md5('org:3')::uuid limit 1`;
    const hidden = await call(`/api/conversations/${foreign?.id}/messages`);
    const missing = await call("/api/conversations/00000000-0000-4000-8000-000000000000/messages");
    expect(hidden.status).toBe(404);
    expect({ ...hidden.body.error, request_id: "" }).toEqual({ ...missing.body.error, request_id: "" });
    expect((await call(`/api/conversations/${foreign?.id}/messages`, callers.outsider.token)).status).toBe(200);
  });
});

describe("the query plan of a deep page", () => {
  it("is an index scan on the composite message index with no sort step", async () => {
    const id = await conversation();
    await directDb()`
      insert into conversation_messages (conversation_id, role, content, created_at)
      select ${id}, 'user', 'm' || n, '2026-01-01'::timestamptz + n * interval '1 second'
      from generate_series(1, 50000) n`;
    await directDb()`analyze conversation_messages`;
    const [deep] = await directDb()`
      select api_timestamp(created_at) as created_at, id from conversation_messages
      where conversation_id = ${id} order by created_at desc, id desc offset 40000 limit 1`;
    const sql = directDb();
    const [explained] =
      await sql`explain (format json) ${messagesPageQuery(sql, id, { window: { limit: 51, after: { createdAt: deep?.created_at, id: deep?.id } } })}`;
    const plan = JSON.stringify(explained?.["QUERY PLAN"]);
    expect(plan).toContain('"Index Name":"idx_messages_conversation_created"');
    expect(plan).toMatch(/"Node Type":"Index (Only )?Scan"/);
    expect(plan).not.toContain('"Node Type":"Sort"');
    expect(plan).not.toContain('"Node Type":"Seq Scan"');
  });
});
