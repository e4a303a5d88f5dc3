/** The Tune view: the settings that matter against the server's size, and the changes the snapshots saw. */
import { afterAll, describe, expect, it } from "vitest";
import { takeStatsSnapshot, SNAPSHOT_INTERVAL_MS } from "../../functions/stats-snapshot.js";
import { tuneView } from "../../functions/tune.js";
import { directDb } from "../../lib/db/pool.js";
import { useConfig } from "../harness/config.js";

const GB = 1024 ** 3;
const setting = (view: Awaited<ReturnType<typeof tuneView>>, name: string) => view.settings.find((s) => s.name === name);

describe("tuning", () => {
  afterAll(async () => {
    await directDb()`select set_config('gap.role', current_user, false), set_config('gap.db', current_database(), false)`;
    await directDb()`do $$ begin execute format('alter role %I in database %I reset work_mem', current_setting('gap.role'), current_setting('gap.db')); end $$`;
    await useConfig({ DB_MEMORY_BYTES: "" });
  });

  it("recommends for the memory given, from PGTune's formulas, and says which settings to review", async () => {
    await useConfig({ DB_MEMORY_BYTES: String(16 * GB) });
    const view = await tuneView();
    expect(view.memory).toEqual({ bytes: 16 * GB, from: "DB_MEMORY_BYTES" });
    const [server] = await directDb()<{ sharedBuffers: number; maxConnections: number }[]>`
      select (select setting::float8 * 8192 from pg_settings where name = 'shared_buffers') as "sharedBuffers",
        current_setting('max_connections')::int as "maxConnections"`;
    expect(setting(view, "shared_buffers")).toMatchObject({
      group: "memory",
      recommended: "4GB",
      verdict: (server?.sharedBuffers ?? 0) >= 2 * GB ? "ok" : "review",
      applies: "restart",
    });
    expect(setting(view, "effective_cache_size")).toMatchObject({ recommended: "12GB" });
    expect(setting(view, "maintenance_work_mem")).toMatchObject({ recommended: "1GB" });
    expect(setting(view, "work_mem")?.recommended).toBe(`${Math.round((16 * GB - 4 * GB) / ((server?.maxConnections ?? 100) * 3) / 1024 ** 2)}MB`);
    expect(setting(view, "checkpoint_completion_target")).toMatchObject({ current: "0.9", verdict: "ok", applies: "reload" });
    expect(setting(view, "autovacuum")).toMatchObject({ group: "autovacuum", recommended: "on" });
    expect(setting(view, "statement_timeout")).toMatchObject({ group: "timeouts", recommended: null, verdict: null, applies: "session" });
    expect(new Set(view.settings.map((s) => s.group))).toEqual(
      new Set(["memory", "checkpoints", "autovacuum", "connections", "timeouts", "planner", "logging"]),
    );
  });

  it("reads the memory as four times shared_buffers when none is given, and says so", async () => {
    await useConfig({ DB_MEMORY_BYTES: "" });
    const view = await tuneView();
    expect(view.memory.from).toBe("shared_buffers");
    expect(setting(view, "shared_buffers")).toMatchObject({ verdict: "ok" });
  });

  it("lists a setting changed between two snapshots, with its values before and after", async () => {
    await takeStatsSnapshot({ at: new Date(Date.now() + SNAPSHOT_INTERVAL_MS) });
    await directDb()`select set_config('gap.role', current_user, false), set_config('gap.db', current_database(), false)`;
    await directDb()`do $$ begin execute format('alter role %I in database %I set work_mem = %L', current_setting('gap.role'), current_setting('gap.db'), '12MB'); end $$`;
    // New connections see the role's setting.
    await useConfig({});
    await takeStatsSnapshot({ at: new Date(Date.now() + 2 * SNAPSHOT_INTERVAL_MS) });
    const view = await tuneView();
    expect(view.changes).toContainEqual(expect.objectContaining({ name: "work_mem", before: "4MB", after: "12MB" }));
    expect(setting(view, "work_mem")).toMatchObject({ current: "12MB", source: "database user" });
  });
});
