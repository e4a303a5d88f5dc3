/**
 * The findings a DBA reads at 3 a.m., on the problems a DBA met: two suggestions that together
 * would leave a column with no index, "unused" on statistics counted for an hour, autovacuum
 * off for the whole server, a column named with a reserved word, and the order and the passed
 * checks of the list.
 */
import { rm } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findingsView, type Finding } from "../../functions/findings.js";
import { takeStatsSnapshot } from "../../functions/stats-snapshot.js";
import { recordIndexSightings } from "../../lib/data/index-sightings.js";
import { migrate } from "../../lib/db/migrate.js";
import { directDb } from "../../lib/db/pool.js";
import { startEmbeddedPostgres } from "../../lib/local/embedded.js";
import { CHECK_TITLES } from "../../lib/ops-shared.js";
import { adminConnection } from "../harness/postgres-admin.js";
import { useConfig } from "../harness/config.js";
import { TEST_DATABASE_URL } from "../harness/file-database.js";
import { freePort, sharedTempDir } from "../harness/net.js";

const ROWS = 60_000;
const of = (findings: Finding[], subject: string) => findings.filter((f) => f.subject === subject);
const statements = (findings: Finding[]) => findings.flatMap((f) => (f.run ? f.run.split("\n") : []));

/** Scans the (customer_id) index enough times that it is in use, and makes the counts visible now. */
async function useCustomerIndex(): Promise<void> {
  await directDb().begin(async (tx) => {
    await tx`set local enable_seqscan = off`;
    await tx`set local enable_bitmapscan = off`;
    for (let i = 0; i < 60; i++) await tx`select count(*) from advice_orders where customer_id = ${i}`;
  });
  await directDb()`select pg_stat_force_next_flush()`;
}

describe("findings whose suggestions are safe to run together", () => {
  beforeAll(async () => {
    await useConfig({ UNUSED_INDEX_MIN_DAYS: "7" });
    const sql = directDb();
    await sql`create table advice_orders (id bigint primary key, customer_id int not null, note text not null, "left" int not null)`;
    await sql`insert into advice_orders select g, g % 500, md5(g::text), g % 7 from generate_series(1, ${ROWS}) g`;
    await sql`create index idx_advice_orders_customer on advice_orders (customer_id)`;
    await sql`create index idx_advice_orders_customer_note on advice_orders (customer_id, note)`;
    // A table whose foreign key has one index, never scanned: dropping it would bring the foreign-key finding back.
    await sql`create table advice_lines (id bigint primary key, order_id bigint not null references advice_orders (id), "left" int not null)`;
    await sql`insert into advice_lines select g, g, g % 3 + 1 from generate_series(1, ${ROWS}) g`;
    await sql`create index idx_advice_lines_order on advice_lines (order_id)`;
    // An index on a column named with a reserved word, scanned by nobody.
    await sql`create index idx_advice_orders_left_note on advice_orders ("left", note)`;
    await sql`analyze advice_orders`;
    await sql`analyze advice_lines`;
    await useCustomerIndex();
    await recordIndexSightings(sql);
  });
  afterAll(async () => {
    await directDb()`drop table if exists advice_lines, advice_orders`;
  });

  it("waits for the minimum before calling an index unused, saying since when usage has been counted", async () => {
    const { findings } = await findingsView();
    const young = of(findings, "idx_advice_orders_customer_note");
    expect(young).toEqual([
      expect.objectContaining({
        check: "unusedIndexes",
        run: null,
        detail: expect.stringMatching(/^0 scans in 0\.0 days of counting \(since \d{4}-\d\d-\d\d \d\d:\d\d UTC\)/),
      }),
    ]);
    expect(young[0]?.note).toContain("after 7 days of counting (UNUSED_INDEX_MIN_DAYS)");
    // Young or not, the used (customer_id) index is covered by the wider one and may go: the wider one stays.
    expect(of(findings, "idx_advice_orders_customer")).toEqual([
      expect.objectContaining({ check: "redundantIndexes", run: "DROP INDEX CONCURRENTLY idx_advice_orders_customer;" }),
    ]);
    // An index no snapshot has seen yet is never suggested for a drop.
    await directDb()`delete from ops.index_sightings where index_name = 'idx_advice_orders_left_note'`;
    const unseen = of((await findingsView()).findings, "idx_advice_orders_left_note");
    expect(unseen).toEqual([expect.objectContaining({ run: null, detail: expect.stringContaining("not known yet") as unknown })]);
    await recordIndexSightings(directDb());
  });

  it("never drops an unused index together with the one it covers, nor the last index of a foreign key, and quotes as the server does", async () => {
    await directDb()`update ops.index_sightings set counted_since = now() - interval '30 days' where index_name like 'idx_advice_%'`;
    const { findings } = await findingsView();
    // The wide index is unused: it goes, and the (customer_id) index it covered stays, saying why.
    expect(of(findings, "idx_advice_orders_customer_note")).toEqual([
      expect.objectContaining({ check: "unusedIndexes", run: "DROP INDEX CONCURRENTLY idx_advice_orders_customer_note;" }),
    ]);
    const covered = of(findings, "idx_advice_orders_customer");
    expect(covered).toEqual([expect.objectContaining({ check: "redundantIndexes", run: null })]);
    expect(covered[0]?.note).toBe("not suggested for a drop: idx_advice_orders_customer_note is suggested for a drop as unused: keep this one");
    // The foreign key's only index is unused, yet it stays.
    const lines = of(findings, "idx_advice_lines_order");
    expect(lines).toEqual([expect.objectContaining({ check: "unusedIndexes", run: null })]);
    expect(lines[0]?.note).toContain("the last index serving foreign key advice_lines_order_id_fkey");
    // Every drop suggested runs as one script and leaves customer_id and order_id indexed.
    const script = statements(findings).filter((s) => s.startsWith("DROP INDEX") && s.includes("advice_"));
    expect(script).toEqual(["DROP INDEX CONCURRENTLY idx_advice_orders_customer_note;", "DROP INDEX CONCURRENTLY idx_advice_orders_left_note;"]);
    const sql = directDb();
    for (const statement of script) await sql.unsafe(statement);
    const left = await sql<{ indexname: string }[]>`select indexname from pg_indexes where tablename in ('advice_orders', 'advice_lines') order by 1`;
    expect(left.map((r) => r.indexname)).toEqual(["advice_lines_pkey", "advice_orders_pkey", "idx_advice_lines_order", "idx_advice_orders_customer"]);
    expect((await findingsView()).findings.filter((f) => f.check === "missingForeignKeyIndexes" && f.subject.includes("advice_"))).toEqual([]);
  });

  it("quotes a reserved word the server's way in what it suggests", async () => {
    const sql = directDb();
    await sql`alter table advice_lines drop constraint advice_lines_order_id_fkey`;
    await sql`alter table advice_lines add constraint advice_lines_left_fkey foreign key ("left") references advice_orders (id)`;
    const { findings } = await findingsView();
    const missing = findings.find((f) => f.check === "missingForeignKeyIndexes" && f.subject.includes("advice_lines_left_fkey"));
    expect(missing?.run).toBe('CREATE INDEX CONCURRENTLY ON advice_lines ("left");');
    if (missing?.run) await sql.unsafe(missing.run.replace(" CONCURRENTLY", ""));
  });

  it("lists the most urgent first, and the checks that passed", async () => {
    const sql = directDb();
    await sql`create sequence advice_nearly_done as integer maxvalue 1000`;
    await sql`select setval('advice_nearly_done', 950)`;
    const view = await findingsView();
    const severities = view.findings.map((f) => f.severity);
    expect(severities).toEqual([...severities].sort((a, b) => ["critical", "warning", "notice"].indexOf(a) - ["critical", "warning", "notice"].indexOf(b)));
    expect(view.findings[0]).toMatchObject({ check: "sequences", severity: "critical", subject: "advice_nearly_done" });
    expect(view.passed).toContain("invalidIndexes");
    // The maintenance table lists every table, the dead rows of the churned one first among these.
    expect(view.maintenance.map((t) => t.table)).toEqual(expect.arrayContaining(["advice_orders", "advice_lines"]));
    expect(view.maintenance.every((t, i) => i === 0 || t.deadRows <= (view.maintenance[i - 1]?.deadRows ?? Infinity))).toBe(true);
    for (const check of view.passed) expect(view.findings.some((f) => f.check === check)).toBe(false);
    expect(new Set([...view.passed, ...view.findings.map((f) => f.check)]).size).toBeLessThanOrEqual(Object.keys(CHECK_TITLES).length);
    await sql`drop sequence advice_nearly_done`;
  });

  it("notes each index as a stats snapshot sees it, and counts again from a reset", async () => {
    const sql = directDb();
    await sql`update ops.index_sightings set counted_since = now() - interval '30 days' where index_name = 'idx_advice_orders_customer'`;
    await takeStatsSnapshot();
    const [kept] = await sql<
      { days: number }[]
    >`select extract(day from now() - counted_since)::int as days from ops.index_sightings where index_name = 'idx_advice_orders_customer'`;
    expect(kept?.days).toBe(30);
    await sql`select pg_stat_reset_single_table_counters('idx_advice_orders_customer'::regclass)`;
    await sql`select pg_stat_force_next_flush()`;
    await takeStatsSnapshot({ at: new Date(Date.now() + 300_000) });
    const [reset] = await sql<
      { days: number }[]
    >`select extract(day from now() - counted_since)::int as days from ops.index_sightings where index_name = 'idx_advice_orders_customer'`;
    expect(reset?.days).toBe(0);
  });
});

describe("autovacuum off for the whole server", () => {
  let root: string;
  let stop: () => Promise<void>;
  beforeAll(async () => {
    root = await sharedTempDir("gap-findings-");
    const server = await startEmbeddedPostgres({
      dataDir: path.join(root, "pg"),
      port: await freePort(),
      persistent: false,
      settings: { autovacuum: "off" },
      systemExtensions: [],
    });
    stop = () => server.stop();
    const admin = adminConnection(server.url);
    await migrate(admin);
    await admin`create table advice_churn (id int primary key, body text)`;
    await admin`insert into advice_churn select g, 'x' from generate_series(1, 2000) g`;
    await admin`delete from advice_churn where id <= 1500`;
    await admin`select pg_stat_force_next_flush()`;
    await admin.end();
    await useConfig({ DATABASE_URL: server.url });
  });
  afterAll(async () => {
    await useConfig({ DATABASE_URL: TEST_DATABASE_URL });
    await stop();
    await rm(root, { recursive: true, force: true });
  });

  it("names the server's setting as the cause and suggests what turns it back on", async () => {
    const { findings } = await findingsView();
    const churn = findings.find((f) => f.check === "autovacuumDue" && f.subject === "advice_churn");
    expect(churn).toMatchObject({ severity: "warning", run: "ALTER SYSTEM SET autovacuum = on;\nSELECT pg_reload_conf();\nVACUUM (ANALYZE) advice_churn;" });
    expect(churn?.note).toMatch(/^autovacuum is off for the whole server \(autovacuum = off\)/);
    expect(churn?.run).not.toContain("RESET (autovacuum_enabled)");
  });
});
