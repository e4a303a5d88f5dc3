/**
 * Attack: a low-privileged role runs slow statements calling an IMMUTABLE function of its own,
 * so that the next admin who opens the statement page or the findings gets the function
 * planned (and so run) with the platform's rights: reading pg_authid, taking an advisory lock
 * that would stay on the pooled connection. Against a real PostgreSQL with pg_stat_statements.
 */
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { statementView } from "../../functions/dashboard.js";
import { SNAPSHOT_INTERVAL_MS, takeStatsSnapshot } from "../../functions/stats-snapshot.js";
import { findingsView } from "../../functions/findings.js";
import { explainStatement } from "../../functions/explain-statement.js";
import { inspectionReport } from "../../functions/inspection-report.js";
import { statementsAvailability } from "../../lib/db/inspect/statements.js";
import { probed } from "../../lib/db/inspect/probe.js";
import { directDb } from "../../lib/db/pool.js";
import { superuserDb, TEST_DATABASE_URL } from "../harness/file-database.js";
import { urlAs } from "../harness/owner.js";

const MALLORY = `gap_mallory_${process.pid}`;
const PASSWORD = "mallory-password-0123456789";
const LOCK = 424242;
const hasStatements = (await probed(directDb(), (tx) => statementsAvailability(tx))).available;
let platformRole: string;
let mallory: postgres.Sql;

/** Whether the probe ran as anyone but Mallory: its lock, held by a session still open. */
async function probeLocks(): Promise<number> {
  return (await superuserDb()`select pid from pg_locks where locktype = 'advisory' and objid = ${LOCK}`).length;
}

let slot = 0;
/** A stats snapshot in a slot of its own: it stores the texts the statement page reads. */
const snapshot = () => takeStatsSnapshot({ at: new Date(Date.now() + ++slot * SNAPSHOT_INTERVAL_MS) });

async function queryIdOf(fragment: string, role: string): Promise<string> {
  await snapshot();
  const [row] = await superuserDb()<{ id: string }[]>`
    select queryid::text as id from pg_stat_statements
    where query like ${`%${fragment}%`} and userid = (select oid from pg_roles where rolname = ${role}) and dbid = (select oid from pg_database where datname = current_database())
    limit 1`;
  if (!row) throw new Error(`no statement like ${fragment} recorded for ${role}`);
  return row.id;
}

beforeAll(async () => {
  if (!hasStatements) return;
  const [me] = await directDb()<{ role: string }[]>`select current_user as role`;
  platformRole = me?.role ?? "";
  // A role that may create functions in public, as many hosted roles may; it owns nothing of the platform's.
  await superuserDb()`drop role if exists ${superuserDb()(MALLORY)}`;
  await superuserDb()`create role ${superuserDb()(MALLORY)} login`;
  await superuserDb().begin(async (tx) => {
    // The password through the server's own quoting: it is a bound parameter here.
    await tx`select set_config('gap.mallory', ${MALLORY}, true), set_config('gap.mallory_password', ${PASSWORD}, true)`;
    await tx`do $$ begin execute format('alter role %I password %L', current_setting('gap.mallory'), current_setting('gap.mallory_password')); end $$`;
  });
  await superuserDb()`grant create, usage on schema public to ${superuserDb()(MALLORY)}`;
  mallory = postgres(urlAs(TEST_DATABASE_URL, MALLORY, PASSWORD), { max: 1, onnotice: () => undefined });
  await mallory`create table public.mallory_data (v int)`;
  await mallory`insert into public.mallory_data values (1)`;
  // Immutable, so the planner folds it: planning the statement runs it as whoever plans.
  // Planned by anyone but Mallory (inspection plans in read-only transactions), it takes a session
  // lock (which would stay on a pooled connection) and fails saying who ran it: what a real attack
  // would read (pg_authid) it could leak the same ways.
  await mallory.unsafe(`
    create function public.mallory_probe() returns int language plpgsql immutable as $$
    begin
      if current_user <> '${MALLORY}' and current_setting('transaction_read_only') = 'on' then
        perform pg_advisory_lock(${LOCK});
        raise exception 'mallory_probe ran as %', current_user;
      end if;
      return 1;
    end $$`);
  for (let i = 0; i < 100; i++) await mallory`select v from public.mallory_data where v = public.mallory_probe() and pg_sleep(0.021) is not null`;
}, 60_000);
afterAll(async () => {
  if (!hasStatements) return;
  await mallory.end();
  await superuserDb()`drop table if exists public.mallory_data`;
  await superuserDb()`drop function if exists public.mallory_probe()`;
  await superuserDb()`revoke all on schema public from ${superuserDb()(MALLORY)}`;
  await superuserDb()`drop owned by ${superuserDb()(MALLORY)}`;
  await superuserDb()`drop role if exists ${superuserDb()(MALLORY)}`;
});

describe.skipIf(!hasStatements)("another role's statements", () => {
  it("are shown without a plan, saying why, and nothing of theirs runs with the platform's rights", async () => {
    const queryId = await queryIdOf("from public.mallory_data where v = public.mallory_probe()", MALLORY);
    const view = await statementView("24h", queryId);
    expect(view?.plan).toEqual({
      plan: null,
      reason: `not planned: run by ${MALLORY}, not the platform's role (${platformRole}); only its own statements are planned, so nothing another role wrote runs with its rights`,
    });
    // Nor does EXPLAIN ANALYZE from the statement page run it, even confirmed.
    expect(await explainStatement(queryId, [], { confirmed: true })).toEqual({
      ran: false,
      needsConfirmation: false,
      reason: `not run: run by ${MALLORY}, not the platform's role (${platformRole}); only its own statements are planned, so nothing another role wrote runs with its rights`,
    });
    const findings = await findingsView();
    expect(findings.notes).toContainEqual(expect.stringMatching(new RegExp(`^no advice for "select [^"]*mallory_data[^"]*": not planned: run by ${MALLORY}`)));
    const report = await inspectionReport(directDb(), ["advice"], { slowMinCalls: 1, slowMinMeanMs: 0 });
    expect(report.advice?.tables.skipped).toContainEqual(expect.objectContaining({ queryId, reason: expect.stringContaining(`run by ${MALLORY}`) }));
    expect(JSON.stringify({ view, findings, report })).not.toContain("mallory_probe ran as");
    expect(await probeLocks()).toBe(0);
  });

  it("a statement of the platform's own that calls another role's function is not planned either", async () => {
    for (let i = 0; i < 3; i++) await directDb()`select count(*) from agents where id::text <> public.mallory_probe()::text`;
    await directDb()`select pg_advisory_unlock_all()`;
    const queryId = await queryIdOf("count(*) from agents where id::text <> public.mallory_probe", platformRole);
    const view = await statementView("24h", queryId);
    expect(view?.plan).toEqual({
      plan: null,
      reason: "not planned: it names function public.mallory_probe, outside pg_catalog and the installed extensions, whose code planning could run",
    });
    expect(await probeLocks()).toBe(0);
  });

  it("a statement of the platform's own that writes another role's table is not planned: the target counts as a table it names", async () => {
    await mallory`grant select, update on public.mallory_data to ${mallory(platformRole)}`;
    for (let i = 0; i < 3; i++) await directDb()`update public.mallory_data set v = v where v = ${5}`;
    const queryId = await queryIdOf("update public.mallory_data set v = v", platformRole);
    const view = await statementView("24h", queryId);
    expect(view?.plan).toEqual({
      plan: null,
      reason: `not planned: it reads public.mallory_data (owned by ${MALLORY}), which another role owns: planning it would run that role's code`,
    });
  });

  it("the snapshots fingerprint no plan of another role's statement", async () => {
    const queryId = await queryIdOf("from public.mallory_data where v = public.mallory_probe()", MALLORY);
    const result = await snapshot();
    expect(result.status).toBe("taken");
    const plans = await directDb()`select 1 from ops.statement_plans where queryid = ${queryId}::bigint`;
    expect(plans).toEqual([]);
    expect(await probeLocks()).toBe(0);
  });

  it("the platform's own statements on its own tables are still planned, and leave the pool's connections as they found them", async () => {
    for (let i = 0; i < 3; i++)
      await directDb()`select id, name from agents where organization_id = ${"00000000-0000-0000-0000-000000000000"} order by created_at desc limit 5`;
    const queryId = await queryIdOf("select id, name from agents where organization_id", platformRole);
    const view = await statementView("24h", queryId);
    expect(view?.plan).toMatchObject({ plan: expect.stringMatching(/Scan .*agents/) });
    // The plan was made on a connection of its own, now closed: no prepared statement or lock is left on the pool's.
    const leftovers = await directDb()`select name from pg_prepared_statements where name = 'gap_index_advice'`;
    expect(leftovers).toEqual([]);
  });
});
