/** Time-ordered message ids: public.uuid_v7() (RFC 9562 version 7), the messages table's default and the seeder's ids. */
import { describe, expect, it } from "vitest";
import { directDb } from "../../../lib/db/pool.js";
import { seededDemo } from "../../harness/demo.js";

const V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe("UUIDv7 message ids", () => {
  it("start with the time in milliseconds, carry version 7 and the RFC variant, and sort by time", async () => {
    const rows = await directDb()<{ id: string; at: string }[]>`
      select public.uuid_v7(t)::text as id, to_char(t at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS.MS') as at
      from unnest(array['2026-12-06 10:00:00.001+00', '2026-12-06 10:00:00.002+00', '2030-01-01 00:00:00+00']::timestamptz[]) as t
      order by t`;
    for (const row of rows) expect(row.id).toMatch(V7);
    expect(rows.map((r) => r.id)).toEqual([...rows.map((r) => r.id)].sort());
    // The first 48 bits are the Unix milliseconds.
    expect(rows[0]?.id.replace(/-/g, "").slice(0, 12)).toBe(Number(Date.parse("2026-12-06T10:00:00.001Z")).toString(16).padStart(12, "0"));
    const [same] = await directDb()<{ a: string; b: string }[]>`
      select public.uuid_v7('2026-12-06 10:00:00+00', decode(md5('x'), 'hex'))::text as a, public.uuid_v7('2026-12-06 10:00:00+00', decode(md5('x'), 'hex'))::text as b`;
    expect(same?.a).toBe(same?.b);
  });

  it("are what a new message gets by default, while the seeder's come out in each conversation's time order", async () => {
    await seededDemo();
    const sql = directDb();
    const [conversation] = await sql<{ id: string }[]>`select id from conversations order by id limit 1`;
    const [inserted] = await sql<{ id: string }[]>`
      insert into conversation_messages (conversation_id, role, content) values (${conversation?.id ?? ""}, 'user', 'hello') returning id::text`;
    expect(inserted?.id).toMatch(V7);
    const seeded = await sql<{ id: string }[]>`
      select id::text from conversation_messages where conversation_id = ${conversation?.id ?? ""} and id <> ${inserted?.id ?? ""} order by created_at, id`;
    expect(seeded.length).toBeGreaterThan(5);
    for (const row of seeded) expect(row.id).toMatch(V7);
    expect(seeded.map((r) => r.id)).toEqual([...seeded.map((r) => r.id)].sort());
  });
});
