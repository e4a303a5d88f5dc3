import { createServer, connect, type AddressInfo, type Server, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { parseConfig } from "../../../lib/config.js";
import { bounded } from "../../../lib/db/deadline.js";
import { DbUnavailableError } from "../../../lib/db/errors.js";
import { APPLICATION_NAME, directDb, poolSettings, postgresOptions, requestDb } from "../../../lib/db/pool.js";
import { connectionTarget } from "../../../lib/db/target.js";
import { useConfig } from "../../harness/config.js";
import { TEST_DATABASE_URL } from "../../harness/file-database.js";

const DIRECT = "postgres://u:p@db.example.com:5432/postgres";

/** A proxy to `target` whose every connection after the first reaches it only `holdMs` later. */
async function slowSecondConnections(target: URL, holdMs: number) {
  let count = 0;
  const sockets = new Set<Socket>();
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => socket.destroy());
  };
  const server: Server = createServer((client) => {
    track(client);
    client.pause();
    setTimeout(
      () => {
        const upstream = connect({ host: target.hostname, port: Number(target.port) });
        track(upstream);
        upstream.on("close", () => client.destroy());
        client.on("close", () => upstream.destroy());
        client.pipe(upstream).pipe(client);
      },
      count++ === 0 ? 0 : holdMs,
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    connections: () => count,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
const POOLER = "postgres://u:p@pooler.example.com:6543/postgres";

function withMarker(url: string): string {
  const marked = new URL(url);
  marked.searchParams.set("pgbouncer", "true");
  return marked.toString();
}

describe("pooler detection", () => {
  it("turns prepared statements off for a transaction-mode pooler on port 6543", () => {
    const settings = poolSettings("request", parseConfig({ DATABASE_URL: DIRECT, SUPABASE_POOLER_URL: POOLER }));
    expect(settings.target).toEqual({ url: POOLER, transactionPooler: true });
    expect(postgresOptions(settings).prepare).toBe(false);
  });

  it("turns them off for ?pgbouncer=true and strips the marker, which is no server setting", () => {
    const target = connectionTarget(withMarker("postgres://u:p@h:5433/db?sslmode=require"));
    expect(target).toEqual({ url: "postgres://u:p@h:5433/db?sslmode=require", transactionPooler: true });
  });

  it("keeps prepared statements on a direct connection, and migrations always use it", () => {
    const cfg = parseConfig({ DATABASE_URL: DIRECT, SUPABASE_POOLER_URL: POOLER });
    const direct = poolSettings("direct", cfg);
    expect(direct.target.url).toBe(DIRECT);
    expect(postgresOptions(direct).prepare).toBe(true);
  });

  it("sends no statement_timeout startup parameter through a pooler, which would refuse the connection", () => {
    const cfg = parseConfig({ SUPABASE_POOLER_URL: POOLER, DB_STATEMENT_TIMEOUT: "2000" });
    expect(postgresOptions(poolSettings("request", cfg)).connection).toEqual({ application_name: APPLICATION_NAME });
    const direct = parseConfig({ DATABASE_URL: DIRECT, DB_STATEMENT_TIMEOUT: "2000" });
    expect(postgresOptions(poolSettings("request", direct)).connection).toEqual({
      application_name: APPLICATION_NAME,
      statement_timeout: "2000",
    });
  });
});

describe("pool profiles", () => {
  it("gives serverless instances a small pool with a short idle timeout", () => {
    const options = postgresOptions(poolSettings("request", parseConfig({ DATABASE_URL: DIRECT, VERCEL: "1" })));
    expect(options).toMatchObject({ max: 5, idle_timeout: 10, max_lifetime: 300, connect_timeout: 5 });
  });

  it("gives workers 10-20 connections", () => {
    const settings = poolSettings("request", parseConfig({ DATABASE_URL: DIRECT }));
    expect(settings).toMatchObject({ min: 10, max: 20, idleTimeoutMs: 60_000 });
  });

  it("lets DB_POOL_* override the profile", () => {
    const cfg = parseConfig({
      DATABASE_URL: DIRECT,
      DB_POOL_PROFILE: "serverless",
      DB_POOL_MIN: "2",
      DB_POOL_MAX: "3",
      DB_IDLE_TIMEOUT: "2000",
      DB_MAX_LIFETIME: "60000",
      DB_CONNECTION_TIMEOUT: "1500",
    });
    expect(postgresOptions(poolSettings("request", cfg))).toMatchObject({
      max: 3,
      idle_timeout: 2,
      max_lifetime: 60,
      connect_timeout: 1.5,
    });
    expect(poolSettings("request", cfg).min).toBe(2);
  });

  it("says which variable is missing when no database is configured", () => {
    expect(() => poolSettings("request", parseConfig({}))).toThrow(/DATABASE_URL or SUPABASE_POOLER_URL must be set/);
    expect(() => poolSettings("direct", parseConfig({ SUPABASE_POOLER_URL: POOLER }))).toThrow(/DATABASE_URL must be set/);
  });
});

describe("pools against a real server", () => {
  afterEach(async () => {
    await useConfig({ DATABASE_URL: TEST_DATABASE_URL, SUPABASE_POOLER_URL: "", DB_POOL_MAX: "", DB_CONNECTION_TIMEOUT: "", DB_STATEMENT_TIMEOUT: "" });
  });

  it("names its connections gpt-agent-platform", async () => {
    const [row] = await requestDb()`select application_name from pg_stat_activity where pid = pg_backend_pid()`;
    expect(row?.application_name).toBe(APPLICATION_NAME);
  });

  it("prepares no named statement when the request URL is marked as a transaction pooler", async () => {
    await useConfig({ SUPABASE_POOLER_URL: withMarker(TEST_DATABASE_URL), DB_POOL_MAX: "1" });
    await requestDb()`select ${1}::int as one`;
    const [pooled] = await requestDb()`select count(*)::int as prepared from pg_prepared_statements`;
    expect(pooled?.prepared).toBe(0);

    await directDb()`select ${1}::int as one`;
    const [direct] = await directDb()`select count(*)::int as prepared from pg_prepared_statements`;
    expect(direct?.prepared).toBeGreaterThan(0);
  });

  it("answers DB_UNAVAILABLE within the connection timeout when the pool is saturated, then recovers", async () => {
    await useConfig({ DB_POOL_MAX: "1", DB_CONNECTION_TIMEOUT: "300" });
    const sql = requestDb();
    const slow = bounded(sql`select pg_sleep(1.5)`, { startWithinMs: 5000, finishWithinMs: 5000 });
    await new Promise((resolve) => setTimeout(resolve, 200));
    const started = Date.now();
    const waiting = await bounded(sql`select 1 as one`).catch((error: unknown) => error);
    expect(waiting).toBeInstanceOf(DbUnavailableError);
    expect((waiting as DbUnavailableError).reason).toBe("POOL_TIMEOUT");
    expect(Date.now() - started).toBeLessThan(1000);
    await slow;
    const [row] = await bounded(sql`select 1 as one`);
    expect(row?.one).toBe(1);
  });

  it("withdraws a query that waited too long without cancelling whatever runs next on its connection", async () => {
    await useConfig({ DB_POOL_MAX: "1", DB_CONNECTION_TIMEOUT: "300" });
    const sql = requestDb();
    for (let run = 0; run < 3; run++) {
      const first = bounded(sql`select pg_sleep(1)`, { startWithinMs: 5000, finishWithinMs: 5000 });
      await new Promise((resolve) => setTimeout(resolve, 100));
      const withdrawn = await bounded(sql`select 1 as withdrawn`).catch((error: unknown) => error);
      expect((withdrawn as DbUnavailableError).reason).toBe("POOL_TIMEOUT");
      await first;
      // Long enough for a cancel sent when the withdrawn query's turn came to land on this one.
      const [next] = await bounded(sql`select pg_sleep(0.3), ${run}::int as run`);
      expect(next?.run).toBe(run);
    }
  });

  it("cancels a query past its deadline without touching the next one: its place is freed only once the cancel is delivered", async () => {
    await useConfig({ SUPABASE_POOLER_URL: withMarker(TEST_DATABASE_URL), DB_POOL_MAX: "1", DB_CONNECTION_TIMEOUT: "200", DB_STATEMENT_TIMEOUT: "100" });
    const sql = requestDb();
    for (let run = 0; run < 3; run++) {
      const late = await bounded(sql`select pg_sleep(2)`).catch((error: unknown) => error);
      expect((late as DbUnavailableError).reason).toBe("STATEMENT_TIMEOUT");
      const [next] = await bounded(sql`select pg_sleep(0.2), ${run}::int as run`, { startWithinMs: 5000, finishWithinMs: 5000 }).catch(
        (error: DbUnavailableError) => {
          throw new Error(`next failed: ${error.reason} ${String((error.cause as Error | undefined)?.message)}`);
        },
      );
      expect(next?.run).toBe(run);
    }
  });

  it("waits for a slow cancel to be delivered before the connection runs anything else", async () => {
    // The cancel's own connection takes a second to reach the server (a busy postmaster, a far
    // pooler): the cancelled query ends on its own meanwhile, and the next must not get the cancel.
    const proxy = await slowSecondConnections(new URL(TEST_DATABASE_URL), 1000);
    try {
      const throughProxy = new URL(TEST_DATABASE_URL);
      throughProxy.hostname = "127.0.0.1";
      throughProxy.port = String(proxy.port);
      await useConfig({
        SUPABASE_POOLER_URL: withMarker(throughProxy.toString()),
        DB_POOL_MAX: "1",
        DB_CONNECTION_TIMEOUT: "2000",
        DB_STATEMENT_TIMEOUT: "100",
      });
      const sql = requestDb();
      await bounded(sql`select 1`);
      // Past its deadline (2 s + 250 ms + 100 ms) it is cancelled; it ends on its own at 3 s, before the cancel lands at about 3.35 s.
      const late = await bounded(sql`select pg_sleep(3)`).catch((error: unknown) => error);
      expect((late as DbUnavailableError).reason).toBe("STATEMENT_TIMEOUT");
      const [next] = await bounded(sql`select pg_sleep(1), 'untouched' as outcome`, { startWithinMs: 5000, finishWithinMs: 5000 });
      expect(next?.outcome).toBe("untouched");
      expect(proxy.connections()).toBe(2);
    } finally {
      await proxy.close();
    }
  });

  it("stops a statement at the server's statement timeout on a direct connection", async () => {
    await useConfig({ DB_STATEMENT_TIMEOUT: "200" });
    const error = await bounded(requestDb()`select pg_sleep(3)`).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DbUnavailableError);
    expect((error as DbUnavailableError).reason).toBe("57014");
  });

  it("cancels a statement past its deadline where no server timeout exists (transaction pooler)", async () => {
    // The client deadline counts from admission: connection timeout + 250 ms + statement timeout = 1050 ms.
    await useConfig({ SUPABASE_POOLER_URL: withMarker(TEST_DATABASE_URL), DB_CONNECTION_TIMEOUT: "500", DB_STATEMENT_TIMEOUT: "300" });
    const error = await bounded(requestDb()`select pg_sleep(5), 'deadline-probe'`).catch((e: unknown) => e);
    expect((error as DbUnavailableError).reason).toBe("STATEMENT_TIMEOUT");
    await expect
      .poll(async () => {
        const rows = await directDb()`
          select 1 from pg_stat_activity
          where query like '%deadline-probe%' and state = 'active' and pid <> pg_backend_pid()`;
        return rows.length;
      })
      .toBe(0);
  });

  it("answers DB_UNAVAILABLE, not a hang, when nothing listens at the database address", async () => {
    const closed = new URL(TEST_DATABASE_URL);
    closed.port = "1";
    await useConfig({ DATABASE_URL: closed.toString(), DB_CONNECTION_TIMEOUT: "500" });
    const error = await bounded(requestDb()`select 1`).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DbUnavailableError);
  });
});

describe("COPY between two connections (the patched postgres.js)", () => {
  it("leaves the reading connection usable after a COPY TO stream fed a slower COPY FROM", async () => {
    const postgres = (await import("postgres")).default;
    const { pipeline } = await import("node:stream/promises");
    const from = postgres(TEST_DATABASE_URL, { max: 1, onnotice: () => undefined });
    const into = postgres(TEST_DATABASE_URL, { max: 1, onnotice: () => undefined });
    try {
      // Rows of this shape made the unpatched driver hang within two rounds, every run (porsager/postgres#499).
      await from`create table copy_source as select gen_random_uuid() as id, repeat('x', 120) as body, now() as at from generate_series(1, 3000) g`;
      for (let round = 0; round < 10; round++) {
        const rows = 500 + round * 250;
        await into.begin(async (tx) => {
          await tx`create temp table copy_target (id uuid, body text, at timestamptz) on commit drop`;
          const source = await from`copy (select * from copy_source order by id limit ${from.unsafe(String(rows))}) to stdout`.readable();
          await pipeline(source, await tx`copy copy_target from stdin`.writable());
          expect(await tx`select count(*)::int as n from copy_target`).toEqual([{ n: rows }]);
        });
        // Before the patch the socket stayed paused here: this query never got its answer.
        const hung = new Promise((_, reject) =>
          setTimeout(() => reject(new Error(`the reading connection hangs after its COPY of round ${round}`)), 5000).unref(),
        );
        expect(await Promise.race([from`select ${round}::int as round`, hung])).toEqual([{ round }]);
      }
    } finally {
      await from`drop table if exists copy_source`;
      await Promise.all([from.end(), into.end()]);
    }
  });
});
