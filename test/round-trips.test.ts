/**
 * Through a transaction-mode pooler every request-path query is one round trip: the platform
 * sends once per query and waits once (postgres.js with `one_round_trip`, patched in from
 * patches/). A proxy in front of the pooler (in the `pgbouncer` project a real PgBouncer in
 * transaction mode; here PostgreSQL itself, marked as a pooler) counts the platform's flights:
 * each time it sends after it last heard from the server. The answers are checked against the
 * direct connection's, and a client without the option shows the test can tell the difference.
 */
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { agentWithWorkflows } from "../lib/data/agents.js";
import { directDb, observeQueries, poolSettings, requestDb, warmPool } from "../lib/db/pool.js";
import { useConfig } from "./harness/config.js";
import { startDelayProxy, type DelayProxy } from "./harness/delay-proxy.js";
import { seededDemo, type DemoCallers } from "./harness/demo.js";
import { TEST_DATABASE_URL, TEST_POOLER_URL } from "./harness/file-database.js";
import { serve, type RunningServer } from "./harness/http.js";
import { databaseUrl } from "./harness/postgres-admin.js";

const database = new URL(TEST_DATABASE_URL).pathname.slice(1);
const upstream = new URL(inject("pgbouncerUrl") ?? TEST_DATABASE_URL);
let proxy: DelayProxy;
/** The pooler through the proxy, without the marker this platform reads (postgres.js would send it on). */
let rawPoolerUrl: string;
let server: RunningServer;
let callers: DemoCallers;
let queries = 0;

beforeAll(async () => {
  callers = await seededDemo();
  proxy = await startDelayProxy({ host: upstream.hostname, port: Number(upstream.port) }, 0);
  const through = new URL(databaseUrl(`postgres://127.0.0.1:${proxy.port}`, database));
  through.username = upstream.username;
  through.password = upstream.password;
  rawPoolerUrl = through.toString();
  through.searchParams.set("pgbouncer", "true");
  observeQueries((role) => role === "request" && queries++);
  await useConfig({ SUPABASE_POOLER_URL: through.toString() });
  // Every connection of the request pool open before counting: a connection's startup and
  // authentication are flights of their own, not a query's.
  await warmPool(requestDb(), poolSettings("request").max);
  server = await serve();
});
afterAll(async () => {
  observeQueries(undefined);
  await useConfig({ SUPABASE_POOLER_URL: TEST_POOLER_URL });
  await server.close();
  await proxy.close();
});

/** The request's answer, with the queries it sent through the pooler and the flights they took. */
async function measured(method: string, path: string, body?: unknown): Promise<{ status: number; body: unknown; queries: number; flights: number }> {
  const [queriesBefore, flightsBefore] = [queries, proxy.flights()];
  const response = await fetch(`${server.baseUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${callers.demo.token}`, ...(body ? { "content-type": "application/json" } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  const answer = { status: response.status, body: JSON.parse(await response.text()) as unknown };
  return { ...answer, queries: queries - queriesBefore, flights: proxy.flights() - flightsBefore };
}

describe("request paths through a transaction-mode pooler", () => {
  it("take one flight a query, each answer as the direct connection reads it", async () => {
    const agents = await directDb()<{ id: string }[]>`select id from agents where organization_id = md5('org:1')::uuid order by id`;
    const [conversation] = await directDb()<{ id: string }[]>`select id from conversations where organization_id = md5('org:1')::uuid order by id limit 1`;
    const lookup = await measured("GET", `/api/agents/${agents[0]?.id}`);
    const [direct] = await agentWithWorkflows(directDb(), agents[0]?.id ?? "");
    expect(lookup).toMatchObject({ status: 200, body: JSON.parse(direct?.json ?? "null") });

    const firstPage = await measured("GET", "/api/agents?limit=2");
    const cursor = (firstPage.body as { next_cursor: string }).next_cursor;
    const secondPage = await measured("GET", `/api/agents?limit=2&cursor=${encodeURIComponent(cursor)}`);
    expect((secondPage.body as { data: Array<{ id: string }> }).data.map((a) => a.id)).toEqual(
      (
        await directDb()<{ id: string }[]>`
        select id from agents where organization_id in (select organization_id from organization_members where user_id = ${callers.demo.userId})
        order by created_at desc, id desc offset 2 limit 2`
      ).map((a) => a.id),
    );
    const messages = await measured("GET", `/api/conversations/${conversation?.id}/messages?limit=5&count=exact`);
    const [count] = await directDb()<{ n: number }[]>`select count(*)::int as n from conversation_messages where conversation_id = ${conversation?.id ?? ""}`;
    expect(messages.body).toMatchObject({ total: count?.n });
    const patched = await measured("PATCH", `/api/agents/${agents[1]?.id}`, {
      name: "Renamed in one round trip",
      config: { temperature: 0.2, tools: ["search"] },
    });
    expect(patched.body).toMatchObject({ name: "Renamed in one round trip", config: { temperature: 0.2, tools: ["search"] } });
    const [stored] = await directDb()<{ name: string; config: unknown }[]>`select name, config from agents where id = ${agents[1]?.id ?? ""}`;
    expect(stored).toEqual({ name: "Renamed in one round trip", config: { temperature: 0.2, tools: ["search"] } });
    const health = await measured("GET", "/api/health");

    for (const request of [lookup, firstPage, secondPage, messages, patched, health]) {
      expect(request.status).toBe(200);
      expect(request.queries).toBeGreaterThan(0);
      expect(request.flights).toBe(request.queries);
    }
  });

  it("takes two flights for the same statement from a client without the option, and for a parameter whose type only the server knows", async () => {
    const [{ id } = { id: "" }] = await directDb()<{ id: string }[]>`select id from agents order by id limit 1`;
    const plain = postgres(rawPoolerUrl, { max: 1, prepare: false, fetch_types: false, onnotice: () => undefined });
    const patched = postgres(rawPoolerUrl, { max: 1, prepare: false, fetch_types: false, onnotice: () => undefined, one_round_trip: true } as postgres.Options<
      Record<string, never>
    >);
    try {
      await plain`select 1`;
      await patched`select 1`;
      const flightsOf = async (run: () => Promise<unknown>) => {
        const before = proxy.flights();
        await run();
        return proxy.flights() - before;
      };
      expect(await flightsOf(() => agentWithWorkflows(plain, id))).toBe(2);
      expect(await flightsOf(() => agentWithWorkflows(patched, id))).toBe(1);
      // An object without a type is serialized by the type the server describes: still two.
      let read: unknown;
      expect(await flightsOf(async () => ([{ value: read }] = await patched`select ${{ a: 1 }}::jsonb as value`))).toBe(2);
      expect(read).toEqual({ a: 1 });
    } finally {
      await plain.end();
      await patched.end();
    }
  });
});
