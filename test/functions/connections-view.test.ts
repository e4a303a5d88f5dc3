/** The dashboard's Connections view: who is connected, grouped as PgHero groups them, and replication beside it. */
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { activity, connectionsView } from "../../functions/dashboard.js";
import { TEST_DATABASE_URL, superuserDb } from "../harness/file-database.js";

const SLOT = `gap_test_slot_${process.pid}_dashboard`;

describe("connections by database, role, application and SSL, and replication", () => {
  let client: postgres.Sql;
  beforeAll(async () => {
    client = postgres(TEST_DATABASE_URL, { max: 2, connection: { application_name: "connections-view-test" }, onnotice: () => undefined });
    await Promise.all([client`select 1`, client`select pg_sleep(0.05)`]);
    // A slot needs the REPLICATION attribute, which a managed owner may lack: the superuser makes it.
    await superuserDb()`select pg_create_physical_replication_slot(${SLOT}, true)`;
  });
  afterAll(async () => {
    await client.end();
    await superuserDb()`select pg_drop_replication_slot(${SLOT})`;
  });

  it("groups every client connection, this test's two among them, with its database, role and SSL", async () => {
    const [me] = await superuserDb()<
      { database: string; role: string }[]
    >`select current_database() as database, ${new URL(TEST_DATABASE_URL).username} as role`;
    // One call: its figures come from one transaction, so one snapshot of pg_stat_activity.
    const { groups, usage } = await activity();
    expect(groups).toContainEqual(
      expect.objectContaining({ database: me?.database, role: me?.role, application: "connections-view-test", ssl: false, connections: 2 }),
    );
    const total = groups.reduce((sum, g) => sum + g.connections, 0);
    expect(total).toBe(usage.total);
  });

  it("lists the replication slots with the WAL they hold back, and no standby where none streams", async () => {
    const { replication } = await connectionsView("24h");
    expect(replication.inRecovery).toBe(false);
    expect(replication.standbys).toEqual([]);
    const slot = replication.slots.find((s) => s.name === SLOT);
    expect(slot).toMatchObject({ kind: "physical", database: null, active: false });
    expect(slot?.retainedBytes).toBeGreaterThanOrEqual(0);
  });
});
