/**
 * Advice proven on a restored copy: the same tables and data in a second database stand for the
 * drill's scratch copy, the statements recorded on the test file's own database. A planted
 * missing index is built and timed there; an index only hypopg's estimate favours is not
 * suggested; a drop that slows a recorded statement is withheld; nothing stays on the copy.
 */
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { measureAdvice, type MeasuredAdviceResult } from "../../functions/measured-advice.js";
import { newestMeasuredAdvice } from "../../lib/data/measured-advice.js";
import { directDb, type Pool } from "../../lib/db/pool.js";
import { TEST_DATABASE_URL } from "../harness/file-database.js";
import { extensionOffered } from "../harness/services.js";
import { runScript } from "../harness/scripts.js";
import { throwawayDatabases } from "../harness/throwaway-databases.js";

const sql = () => directDb();
const withStatements = inject("embedded");
const withHypopg = withStatements && (await extensionOffered(sql(), "hypopg", "Debian: apt-get install postgresql-15-hypopg"));

/** The planted problems, made the same on the database and on its copy. */
async function plant(db: Pool): Promise<void> {
  // A missing index: messages of a conversation, newest first, read by scanning the whole table.
  await db`create table ma_messages (id bigint generated always as identity primary key, conversation_id int not null, created_at timestamptz not null, body text not null)`;
  await db`
    insert into ma_messages (conversation_id, created_at, body)
    select g % 4000, timestamptz '2026-01-01' + g * interval '1 second', repeat(md5(g::text), 2)
    from generate_series(1, 200000) g`;
  // A skewed column: 97% of rows have the same kind, and that is the value a drawn row has.
  await db`create table ma_events (id bigint generated always as identity primary key, kind text not null, payload int not null)`;
  await db`
    insert into ma_events (kind, payload)
    select case when g > 194000 then 'rare-' || (g % 30) else 'common' end, g
    from generate_series(1, 200000) g`;
  // Drop proposals: an index a rare statement needs, and one nothing reads.
  await db`create table ma_orders (id bigint generated always as identity primary key, customer_id int not null, total int not null)`;
  await db`insert into ma_orders (customer_id, total) select g % 20000, g from generate_series(1, 150000) g`;
  await db`create index ma_orders_customer on ma_orders (customer_id)`;
  await db`create index ma_orders_total on ma_orders (total)`;
  await db`analyze ma_messages, ma_events, ma_orders`;
}

/** Runs a statement `times` times on a connection of its own, as an application would. */
async function workload(times: number, run: (client: Pool, i: number) => Promise<unknown>): Promise<void> {
  const client = postgres(TEST_DATABASE_URL, { max: 1, prepare: false, onnotice: () => undefined });
  for (let i = 0; i < times; i++) await run(client, i);
  await client.end();
}

describe.skipIf(!withHypopg)("advice measured on a restored copy", () => {
  const databases = throwawayDatabases(inject("serverUrl"));
  let copy: Pool;
  let copyUrl: string;
  let result: MeasuredAdviceResult;

  beforeAll(async () => {
    copyUrl = await databases.empty();
    copy = postgres(copyUrl, { max: 1, onnotice: () => undefined });
    await plant(sql());
    await plant(copy);
    // An index built after the copy was taken: the copy cannot measure its drop.
    await sql()`create table ma_newer (v int)`;
    await sql()`insert into ma_newer select generate_series(1, 100000)`;
    await sql()`create index ma_newer_v on ma_newer (v)`;
    // On the copy, a trigger that counts its firings in a sequence (a rollback does not undo nextval).
    await copy`create sequence ma_trigger_firings`;
    await copy`create function ma_count_firing() returns trigger language plpgsql as $$ begin perform nextval('ma_trigger_firings'); return new; end $$`;
    await copy`create trigger ma_orders_updated before update on ma_orders for each row execute function ma_count_firing()`;
    await workload(6, (c, i) => c`select id, body from ma_messages where conversation_id = ${i * 7} order by created_at desc limit ${20}`);
    await workload(6, (c) => c`select count(*) from ma_events where kind = ${"common"}`);
    await workload(6, (c, i) => c`select sum(total) from ma_orders where customer_id = ${i * 11}`);
    await workload(6, (c, i) => c`update ma_orders set total = total + 1 where customer_id = ${i * 13}`);
    result = await measureAdvice(sql(), copyUrl, { minCalls: 5, minMeanMs: 0, copyTakenAt: "2026-12-06T03:00:00.000Z" });
  }, 120_000);

  afterAll(async () => {
    await copy.end();
    await databases.dropAll();
  });

  const about = (index: string) => result.advice.find((a) => a.index === index);

  it("builds the planted missing index on the copy, times its statement before and after, and suggests it with the speedup", () => {
    const built = result.advice.find((a) => a.kind === "create" && a.table === "public.ma_messages");
    expect(built).toMatchObject({ verdict: "suggested", columns: expect.arrayContaining(["conversation_id"]) });
    expect(built?.msBefore).toBeGreaterThan(0);
    expect(built?.msBefore ?? 0).toBeGreaterThan((built?.msAfter ?? Infinity) * 5);
    expect(built?.buffersBefore ?? 0).toBeGreaterThan(built?.buffersAfter ?? Infinity);
    expect(built?.buildSeconds).toBeGreaterThan(0);
    expect(built?.sizeBytes).toBeGreaterThan(1024 * 1024);
    expect(built?.reason).toMatch(
      /^measured on the copy of 2026-12-06T03:00:00.000Z: [\d.]+ ms -> [\d.]+ ms \([\d.]+x\) for "select id, body from ma_messages where conversation_id = \$1[^"]*…", build [\d.]+ s, [\d.]+ MB \(hypopg predicted [\d.]+x\)$/,
    );
  });

  it("does not suggest an index that only helps in hypopg's estimate: the values the data holds gain nothing", () => {
    const skewed = result.advice.find((a) => a.kind === "create" && a.table === "public.ma_events");
    expect(skewed).toBeDefined();
    expect((skewed?.predictedCostBefore ?? 0) / (skewed?.predictedCostAfter ?? Infinity)).toBeGreaterThanOrEqual(2);
    expect(skewed?.verdict).toBe("not suggested");
    expect(skewed?.reason).toMatch(/^no measurable gain on the copy of 2026-12-06T03:00:00.000Z: /);
  });

  it("withholds a drop that slows a recorded statement, and suggests one no statement's plan reads", () => {
    const needed = about("ma_orders_customer");
    expect(needed).toMatchObject({ kind: "drop", verdict: "withheld" });
    const [effect] = needed?.effects ?? [];
    expect(effect).toMatchObject({ query: expect.stringContaining("from ma_orders where customer_id = $1"), slower: true });
    expect(effect?.msAfter ?? 0).toBeGreaterThan((effect?.msBefore ?? Infinity) * 1.25);
    expect(needed?.reason).toMatch(/^unused \(\d+ scans\), but without it a recorded statement went .* on the copy of 2026-12-06T03:00:00.000Z: keep it/);
    expect(about("ma_orders_total")).toMatchObject({
      kind: "drop",
      verdict: "suggested",
      reason: expect.stringContaining("no recorded statement's plan on the copy"),
      statement: "DROP INDEX CONCURRENTLY public.ma_orders_total;",
    });
  });

  it("does not suggest dropping an index the copy does not have, saying why", () => {
    expect(about("ma_newer_v")).toMatchObject({
      kind: "drop",
      verdict: "not measured",
      reason: "the copy has no index ma_newer_v (restored from a backup taken before it was built)",
    });
  });

  it("runs no write on the copy: a recorded UPDATE whose plan reads a dropped index is planned, not run, and no trigger fires", async () => {
    const [firings] = await copy<{ called: boolean }[]>`select is_called as called from ma_trigger_firings`;
    expect(firings?.called).toBe(false);
    const needed = about("ma_orders_customer");
    expect(needed?.effects.map((e) => e.query)).toEqual([expect.stringContaining("select sum(total) from ma_orders")]);
  });

  it("leaves the copy as it was and records the run in the database's ops.measured_advice", async () => {
    const indexes = await copy<{ name: string }[]>`select indexname as name from pg_indexes where tablename like 'ma\_%' order by 1`;
    expect(indexes.map((i) => i.name)).toEqual(["ma_events_pkey", "ma_messages_pkey", "ma_orders_customer", "ma_orders_pkey", "ma_orders_total"]);
    const newest = await newestMeasuredAdvice(sql());
    expect(newest?.runId).toBe(result.runId);
    expect(newest?.advice.map((a) => [a.index, a.verdict]).sort()).toEqual(result.advice.map((a) => [a.index, a.verdict]).sort());
  });

  it("marks what is left not measured once its time budget has run out, saying so", async () => {
    const { advice } = await measureAdvice(sql(), copyUrl, { minCalls: 5, minMeanMs: 0, budgetSeconds: 0 });
    expect(advice.length).toBeGreaterThanOrEqual(4);
    for (const row of advice) {
      expect(row).toMatchObject({ verdict: "not measured", reason: "not measured: the measurement's time budget (0 s) ran out before it", msBefore: null });
    }
  });

  it("refuses to measure on the database itself, or on a copy it cannot reach", async () => {
    await expect(measureAdvice(sql(), TEST_DATABASE_URL)).rejects.toThrow(/is the database itself .* not a copy/);
    const unreachable = "postgres://someone:secret-password@127.0.0.1:1/copy";
    await expect(measureAdvice(sql(), unreachable)).rejects.toThrow(/^cannot reach the copy at postgres:\/\/someone:\*+@127\.0\.0\.1:1\/copy: /);
  });

  it("runs from the command line: --on measures and records, without it the newest run is shown; mistakes exit non-zero", async () => {
    const run = (args: string[]) => runScript("advise", args, { DATABASE_URL: TEST_DATABASE_URL });
    const measured = await run(["--on", copyUrl, "--runs", "1", "--value-sets", "2", "--slow-min-calls", "5", "--slow-min-mean-ms", "0"]);
    expect(measured.code).toBe(0);
    expect(measured.stdout).toMatch(/\nSUGGESTED {2}build idx_ma_messages_conversation_id\S* on public\.ma_messages\n {2}measured on the copy: /);
    expect(measured.stdout).toMatch(/\n {2}run: CREATE INDEX CONCURRENTLY idx_ma_messages_conversation_id\S* ON public\.ma_messages \(conversation_id/);
    expect(measured.stdout).toMatch(/\nWITHHELD {2}drop ma_orders_customer on public\.ma_orders\n/);
    expect(measured.stdout).toMatch(/\nmeasured in [\d.]+ s; recorded as run [0-9a-f-]{36} in ops\.measured_advice$/m);
    const shown = await run([]);
    expect(shown).toMatchObject({ code: 0, stdout: expect.stringMatching(/^measured \S+Z\n/) });
    expect(shown.stdout).toContain("WITHHELD  drop ma_orders_customer on public.ma_orders");
    expect(await run(["--on", "mysql://x"])).toMatchObject({ code: 2, stderr: expect.stringContaining("--on must be a postgres:// URL") });
    expect(await run(["--runs", "0", "--on", copyUrl])).toMatchObject({
      code: 2,
      stderr: expect.stringContaining("--runs must be a whole number of 1 or more"),
    });
    expect(await run(["--runs", "2"])).toMatchObject({ code: 2, stderr: expect.stringContaining("the options measure: they go with --on") });
    const itself = await run(["--on", TEST_DATABASE_URL]);
    expect(itself).toMatchObject({ code: 1, stderr: expect.stringMatching(/^error: .* is the database itself .*, not a copy/) });
    expect(itself.stderr).not.toContain("at Object");
  });
});
