/** In the `pgbouncer` project: request paths really go through PgBouncer in transaction mode. */
import postgres from "postgres";
import { describe, expect, inject, it } from "vitest";
import { requestDb } from "../lib/db/pool.js";
import { databaseUrl } from "./harness/postgres-admin.js";

const pgbouncerUrl = inject("pgbouncerUrl");

describe("through PgBouncer", () => {
  it("serves the request pool's statements in transaction pooling mode", async () => {
    expect(pgbouncerUrl).toBeTruthy();
    const admin = postgres(databaseUrl(pgbouncerUrl ?? "", "pgbouncer"), { max: 1, prepare: false, fetch_types: false, onnotice: () => undefined });
    const queries = async () => {
      const rows = await admin.unsafe("SHOW STATS").simple();
      return rows.reduce((sum, row) => sum + Number(row.total_query_count ?? 0), 0);
    };
    const before = await queries();
    for (let i = 0; i < 5; i++) await requestDb()`select ${i}::int as n`;
    expect(await queries()).toBeGreaterThanOrEqual(before + 5);
    const [mode] = (await admin.unsafe("SHOW CONFIG").simple()).filter((row) => row.key === "pool_mode");
    expect(mode?.value).toBe("transaction");
    await admin.end();
  });
});
