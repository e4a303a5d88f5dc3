/**
 * EXPLAIN ANALYZE from the statement page: the plan with the operator's values, never a write
 * kept, a write only once confirmed, read-only otherwise, bad values refused with the count it
 * needs. Against a real PostgreSQL with pg_stat_statements.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { explainStatement, ExplainInputError } from "../../functions/explain-statement.js";
import { SNAPSHOT_INTERVAL_MS, takeStatsSnapshot } from "../../functions/stats-snapshot.js";
import { statementView } from "../../functions/dashboard.js";
import { statementsAvailability } from "../../lib/db/inspect/statements.js";
import { probed } from "../../lib/db/inspect/probe.js";
import { directDb } from "../../lib/db/pool.js";
import { superuserDb } from "../harness/file-database.js";

const hasStatements = (await probed(directDb(), (tx) => statementsAvailability(tx))).available;

async function queryIdOf(fragment: string): Promise<string> {
  const [row] = await superuserDb()<{ id: string }[]>`
    select queryid::text as id from pg_stat_statements
    where query like ${`%${fragment}%`} and userid = (select oid from pg_roles where rolname = current_user)
      and dbid = (select oid from pg_database where datname = current_database())
    limit 1`;
  if (!row) throw new Error(`no statement like ${fragment}`);
  return row.id;
}

describe.skipIf(!hasStatements)("EXPLAIN ANALYZE of a recorded statement", () => {
  let read: string;
  let write: string;
  beforeAll(async () => {
    const sql = directDb();
    await sql`create table explain_orders (id int primary key, customer int not null, note text not null)`;
    await sql`insert into explain_orders select g, g % 100, 'n' || g from generate_series(1, 5000) g`;
    await sql`create index explain_orders_customer on explain_orders (customer)`;
    await sql`analyze explain_orders`;
    for (let i = 0; i < 3; i++) {
      await sql`select id, note from explain_orders where customer = ${i}`;
      await sql`update explain_orders set note = ${"x"} where id = ${i + 1}`;
    }
    read = await queryIdOf("from explain_orders where customer");
    write = await queryIdOf("update explain_orders set note");
    await takeStatsSnapshot({ at: new Date(Date.now() + SNAPSHOT_INTERVAL_MS) });
  });
  afterAll(async () => {
    await directDb()`drop table explain_orders`;
  });

  it("runs a SELECT read-only with the values given, and shows the plan with its timing and buffers", async () => {
    const outcome = await explainStatement(read, ["7"], { confirmed: false });
    expect(outcome).toMatchObject({ ran: true, readOnly: true });
    if (!outcome.ran) return;
    expect(outcome.plan).toMatch(/explain_orders/);
    expect(outcome.plan).toMatch(/actual time=/);
    expect(outcome.plan).toMatch(/Buffers: shared hit=/);
    expect(outcome.plan).toMatch(/Execution Time/);
  });

  it("asks before running anything but a plain SELECT, then rolls back what it did", async () => {
    const asked = await explainStatement(write, ["changed", "42"], { confirmed: false });
    expect(asked).toEqual({
      ran: false,
      needsConfirmation: true,
      reason: "it updates rows: EXPLAIN ANALYZE runs it for real (then rolls it back); confirm to run it",
    });
    const ran = await explainStatement(write, ["changed", "42"], { confirmed: true });
    expect(ran).toMatchObject({ ran: true, readOnly: false });
    if (ran.ran) expect(ran.plan).toMatch(/Update on explain_orders/);
    const [row] = await directDb()<{ note: string }[]>`select note from explain_orders where id = 42`;
    expect(row?.note).toBe("n42");
  });

  it("refuses values that do not fit the statement, naming how many it takes, and says why a bad value failed", async () => {
    await expect(explainStatement(read, [], { confirmed: false })).rejects.toThrow(new ExplainInputError("the statement takes 1 parameter ($1 … $1), 0 given"));
    const bad = await explainStatement(read, ["not a number"], { confirmed: false });
    expect(bad).toMatchObject({
      ran: false,
      needsConfirmation: false,
      reason: expect.stringMatching(/^EXPLAIN ANALYZE failed and was rolled back: invalid input syntax for type integer/) as unknown,
    });
    expect(await explainStatement("123456789", [], { confirmed: false })).toMatchObject({
      ran: false,
      reason: expect.stringContaining("no longer holds") as unknown,
    });
  });

  it("puts the tables it reads on the statement's page, with their sizes and indexes, and what running it asks for", async () => {
    const view = await statementView("1h", read);
    expect(view?.run).toEqual({ parameters: 1, writes: null });
    expect(view?.tables).toEqual([
      expect.objectContaining({
        table: "explain_orders",
        kind: "table",
        estimatedRows: 5000,
        indexes: [
          expect.objectContaining({
            name: "explain_orders_customer",
            definition: "CREATE INDEX explain_orders_customer ON public.explain_orders USING btree (customer)",
          }),
          expect.objectContaining({ name: "explain_orders_pkey" }),
        ],
      }),
    ]);
    expect((await statementView("1h", write))?.run).toEqual({ parameters: 2, writes: "it updates rows" });
  });
});
