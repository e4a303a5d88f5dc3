/**
 * The first level in front of Upstash: a hot agent is read from the instance's memory, not
 * Upstash, for CACHE_L1_TTL_MS; this instance's writes show at once, another instance's within
 * that time; a stampede still makes one database query, and unknown ids cost no more than before.
 * Through the Upstash-protocol bridge (which counts the commands it receives) to a private Redis.
 */
import { Redis as RedisClient } from "ioredis";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { agentForCaller, updateAgentForCaller } from "../../functions/agents.js";
import { statementsAvailability } from "../../lib/db/inspect/statements.js";
import { probed } from "../../lib/db/inspect/probe.js";
import { directDb } from "../../lib/db/pool.js";
import { startUpstashBridge, type UpstashBridge } from "../fixtures/upstash-bridge.js";
import { useConfig } from "../harness/config.js";
import { seededDemo, type DemoCallers } from "../harness/demo.js";
import { superuserDb } from "../harness/file-database.js";
import { freePort } from "../harness/net.js";
import { startRedisServer, type PrivateRedis } from "../harness/redis-server.js";
import { commandAvailable } from "../harness/services.js";

const hasRedisServer = commandAvailable("redis-server");
const hasStatements = (await probed(directDb(), (tx) => statementsAvailability(tx))).available;

/** How many times the agent lookup's statement ran (pg_stat_statements). */
async function agentQueries(): Promise<number> {
  await directDb()`select pg_stat_force_next_flush()`.catch(() => undefined);
  const [row] = await superuserDb()<{ calls: number }[]>`
    select coalesce(sum(calls), 0)::float8 as calls from pg_stat_statements
    where query like '%from agents a%' and query like '%where a.id = $1%' and dbid = (select oid from pg_database where datname = current_database())`;
  return row?.calls ?? 0;
}

describe.skipIf(!hasRedisServer)("the in-process first level in front of Upstash", () => {
  let redis: PrivateRedis;
  let bridge: UpstashBridge;
  let callers: DemoCallers;
  let agentIds: string[];
  const configured = (ttlMs: string) => useConfig({ UPSTASH_REDIS_REST_URL: bridge.url, UPSTASH_REDIS_REST_TOKEN: bridge.token, CACHE_L1_TTL_MS: ttlMs });

  beforeAll(async () => {
    redis = await startRedisServer(await freePort());
    bridge = await startUpstashBridge(redis.url);
    callers = await seededDemo();
    agentIds = (await directDb()<{ id: string }[]>`select id from agents where organization_id = ${callers.organizationIds[0] ?? ""} order by id`).map(
      (r) => r.id,
    );
  });
  afterAll(async () => {
    await useConfig({ UPSTASH_REDIS_REST_URL: "", UPSTASH_REDIS_REST_TOKEN: "", CACHE_L1_TTL_MS: "" });
    await bridge.close();
    await redis.stop();
  });
  beforeEach(async () => {
    await configured("1000");
  });

  it("answers 1,000 lookups of one hot agent with at most 10 Upstash commands (one per lookup without it)", async () => {
    const id = agentIds[0] ?? "";
    const caller = { userId: callers.demo.userId };
    await agentForCaller(caller, id);
    bridge.commands.length = 0;
    for (let i = 0; i < 1000; i++) expect((await agentForCaller(caller, id))?.cache).toBe("hit");
    expect(bridge.commands.length).toBeLessThanOrEqual(10);
    await configured("0");
    await agentForCaller(caller, id);
    bridge.commands.length = 0;
    for (let i = 0; i < 100; i++) await agentForCaller(caller, id);
    expect(bridge.commands).toEqual(Array.from({ length: 100 }, () => "MGET"));
  });

  it("shows this instance's write at once, and another instance's within the first level's time", async () => {
    const id = agentIds[1] ?? "";
    const caller = { userId: callers.demo.userId };
    const nameOf = async () => (JSON.parse((await agentForCaller(caller, id))?.json ?? "{}") as { name?: string }).name;
    await nameOf();
    expect(await updateAgentForCaller(caller, id, { name: "Renamed here" })).toBeDefined();
    expect(await nameOf()).toBe("Renamed here");
    // Another instance: its write lands in the database and drops the shared entry; this instance's memory still holds the old one.
    await directDb()`update agents set name = 'Renamed elsewhere' where id = ${id}`;
    const client = new RedisClient(redis.url);
    await client.del(`agent:v1:${id}`);
    client.disconnect();
    const started = Date.now();
    let seen = await nameOf();
    expect(seen).toBe("Renamed here");
    while (seen !== "Renamed elsewhere" && Date.now() - started < 5000) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      seen = await nameOf();
    }
    expect(seen).toBe("Renamed elsewhere");
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it.skipIf(!hasStatements)("still loads a cold agent once for 200 concurrent lookups", async () => {
    const [fresh] = await directDb()<{ id: string }[]>`
      insert into agents (organization_id, name, model) values (${callers.organizationIds[0] ?? ""}, 'Stampede', 'gpt-4o') returning id`;
    const before = await agentQueries();
    const caller = { userId: callers.demo.userId };
    const found = await Promise.all(Array.from({ length: 200 }, () => agentForCaller(caller, fresh?.id ?? "")));
    expect(found.every((f) => f !== undefined)).toBe(true);
    expect((await agentQueries()) - before).toBe(1);
  });

  it("holds an unknown id in memory too: a repeated one asks Upstash once, many distinct ones no more than without it", async () => {
    const caller = { userId: callers.demo.userId };
    const unknown = crypto.randomUUID();
    await agentForCaller(caller, unknown);
    bridge.commands.length = 0;
    for (let i = 0; i < 100; i++) expect(await agentForCaller(caller, unknown)).toBeUndefined();
    expect(bridge.commands.length).toBeLessThanOrEqual(2);
    const flood = async () => {
      bridge.commands.length = 0;
      for (let i = 0; i < 50; i++) await agentForCaller(caller, crypto.randomUUID());
      return bridge.commands.length;
    };
    const withFirstLevel = await flood();
    await configured("0");
    expect(withFirstLevel).toBeLessThanOrEqual(await flood());
  });
});
