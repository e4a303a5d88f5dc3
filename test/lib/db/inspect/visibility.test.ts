/**
 * A role without pg_read_all_stats sees other roles' sessions and statements with their state,
 * query and query id hidden: the inspection counts them and says so, never drops them in silence.
 */
import { randomBytes } from "node:crypto";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inspectionReport } from "../../../../functions/inspection-report.js";
import { HIDDEN_STATEMENT, statementsAvailability } from "../../../../lib/db/inspect/statements.js";
import { statsVisibility } from "../../../../lib/db/inspect/visibility.js";
import { directDb, type Pool } from "../../../../lib/db/pool.js";
import { TEST_DATABASE_URL } from "../../../harness/file-database.js";
import { urlAs } from "../../../harness/owner.js";

const role = `gap_limited_${process.pid}`;
const password = randomBytes(12).toString("hex");
let limited: Pool;
let sleeper: Pool;

beforeAll(async () => {
  const sql = directDb();
  await sql`drop role if exists ${sql(role)}`;
  await sql`create role ${sql(role)} login`;
  await sql.begin(async (tx) => {
    await tx`select set_config('gap.limited_name', ${role}, true), set_config('gap.limited_password', ${password}, true)`;
    await tx`do $$ begin execute format('alter role %I password %L', current_setting('gap.limited_name'), current_setting('gap.limited_password')); end $$`;
  });
  // What any role that inspects needs: the function that shows a query without its literals,
  // the history the regressions read, and the schema pg_stat_statements is in.
  await sql`grant usage on schema ops to ${sql(role)}`;
  await sql`grant select on all tables in schema ops to ${sql(role)}`;
  const statements = await statementsAvailability(sql);
  if (statements.available) await sql`grant usage on schema ${sql(statements.schema)} to ${sql(role)}`;
  limited = postgres(urlAs(TEST_DATABASE_URL, role, password), { max: 1, onnotice: () => undefined });
  sleeper = postgres(TEST_DATABASE_URL, { max: 1, onnotice: () => undefined, connection: { application_name: "visibility-sleeper" } });
});
afterAll(async () => {
  await limited.end();
  await sleeper.end();
  const sql = directDb();
  await sql`revoke select on all tables in schema ops from ${sql(role)}`;
  await sql`revoke usage on schema ops from ${sql(role)}`;
  const statements = await statementsAvailability(sql);
  if (statements.available) await sql`revoke usage on schema ${sql(statements.schema)} from ${sql(role)}`;
  await sql`drop role ${sql(role)}`;
});

describe("a role without pg_read_all_stats", () => {
  it("counts other roles' sessions as hidden connections, and each section says what it cannot see", async () => {
    const [{ pid } = { pid: 0 }] = await sleeper<{ pid: number }[]>`select pg_backend_pid() as pid`;
    const sleeping = sleeper`select pg_sleep(2)`.then(() => undefined);
    await expect.poll(async () => (await directDb()`select 1 from pg_stat_activity where pid = ${pid} and state = 'active'`).length).toBe(1);

    expect(await statsVisibility(limited)).toMatchObject({ role, seesAllRoles: false });
    expect((await statsVisibility(directDb())).seesAllRoles).toBe(true);
    const report = await inspectionReport(limited, ["connections", "queries", "statements"]);
    await sleeping;

    const usage = report.connections?.tables.usage?.[0] as { total: number; hidden: number };
    expect(usage.hidden).toBeGreaterThanOrEqual(1);
    expect(usage.total).toBeGreaterThan(usage.hidden);
    expect(report.connections?.tables.sources).toContainEqual(expect.objectContaining({ application: "visibility-sleeper", state: "(hidden)" }));
    expect(report.connections?.notes).toEqual([
      expect.stringMatching(new RegExp(`^role ${role} is not a member of pg_read_all_stats: sessions of other roles are counted`)),
    ]);

    const running = report.queries?.tables.running as Array<{ pid: number }>;
    expect(running.map((q) => q.pid)).not.toContain(pid);
    expect(report.queries?.notes).toEqual([
      expect.stringMatching(
        new RegExp(`^role ${role} is not a member of pg_read_all_stats: [1-9]\\d* session\\(s\\) of other roles in this database are not listed`),
      ),
    ]);

    const statements = await statementsAvailability(directDb());
    if (statements.available) {
      const byTotal = report.statements?.tables.byTotalTime as Array<{ queryId: string | null; query: string }>;
      expect(byTotal).toContainEqual(expect.objectContaining({ queryId: null, query: HIDDEN_STATEMENT }));
      expect(report.statements?.notes).toEqual([expect.stringMatching(/^role \w+ is not a member of pg_read_all_stats: other roles' statements are counted/)]);
    }
  });
});
