/** `npm run db:inspect` as a person and a machine run it. */
import postgres from "postgres";
import { describe, expect, it } from "vitest";
import { SECTIONS } from "../../functions/inspection-report.js";
import { cell, formatTable } from "../../scripts/format-table.js";
import { TEST_DATABASE_URL } from "../harness/file-database.js";
import { runScript, type ScriptRun } from "../harness/scripts.js";

function inspect(args: string[], databaseUrl = TEST_DATABASE_URL): Promise<ScriptRun> {
  return runScript("inspect", args, { DATABASE_URL: databaseUrl, SUPABASE_POOLER_URL: "" });
}

describe("npm run db:inspect", () => {
  it("prints every section as readable tables by default", async () => {
    const { code, stdout } = await inspect([]);
    expect(code).toBe(0);
    for (const section of SECTIONS) expect(stdout).toContain(`== ${section}`);
    expect(stdout).toMatch(/usage\n\s+total\s+usable\s+usageRatio/);
  });

  it("prints the sections asked for as JSON with --json", async () => {
    const { code, stdout } = await inspect(["indexes", "space", "--json"]);
    expect(code).toBe(0);
    const report = JSON.parse(stdout) as Record<string, { tables: Record<string, unknown[]> }>;
    expect(Object.keys(report)).toEqual(["indexes", "space"]);
    expect(report.space?.tables.relations?.length).toBeGreaterThan(0);
  });

  it("takes the slow-statement and advice thresholds as options, and refuses ones out of range", async () => {
    const { code, stdout } = await inspect(["advice", "--json", "--slow-min-calls", "1", "--slow-min-mean-ms", "0", "--advice-min-cost-cut", "0.9"]);
    expect(code).toBe(0);
    const report = JSON.parse(stdout) as Record<string, { notes: string[] }>;
    expect(report.advice?.notes[0]).toMatch(/^(\d+ slow statement\(s\) \(at least 1 calls, 0 ms mean\).* by at least 90%|index advice skipped: )/);
    for (const [flag, value, message] of [
      ["--advice-min-cost-cut", "2", "--advice-min-cost-cut must be a number from 0 to 1"],
      ["--slow-min-calls", "-1", "--slow-min-calls must be a number of 0 or more"],
      ["--slow-min-mean-ms", "", "--slow-min-mean-ms must be a number of 0 or more"],
    ] as const) {
      const refused = await inspect(["advice", `${flag}=${value}`]);
      expect(refused.code).toBe(2);
      expect(refused.stderr).toContain(`error: ${message}`);
    }
  });

  it("exits 2 with the usage for an unknown section, 1 with a clear line when the database is out of reach", async () => {
    const unknown = await inspect(["everything"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('error: unknown section "everything"');
    const closed = new URL(TEST_DATABASE_URL);
    closed.port = "1";
    const unreachable = await inspect(["connections"], closed.toString());
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr.trim()).toMatch(/^error: cannot reach postgres:\/\/.*:1\/.* \(ECONNREFUSED\)/);
    expect(unreachable.stderr).not.toContain("    at ");
  });
});

describe("npm run db:inspect -- cancel|terminate <pid>", () => {
  it("shows the session and exits 2 without --yes; with it, cancels the query", async () => {
    const victim = postgres(TEST_DATABASE_URL, { max: 1, onnotice: () => undefined, connection: { application_name: "cli-victim" } });
    const [{ pid } = { pid: 0 }] = await victim<{ pid: number }[]>`select pg_backend_pid() as pid`;
    const sleeping = victim`select pg_sleep(30)`.then(
      () => "finished",
      (e: { code?: string }) => e.code,
    );
    try {
      const asked = await inspect(["cancel", String(pid)]);
      expect(asked.code).toBe(2);
      // The running query is shown without its constants.
      expect(asked.stdout).toMatch(new RegExp(`${pid} .* cli-victim .* client backend .* select pg_sleep\\(\\*\\*\\*\\)`));
      expect(asked.stderr.trim()).toBe(`error: nothing sent: run again with --yes to cancel session ${pid}`);

      const done = await inspect(["cancel", String(pid), "--yes"]);
      expect(done.code).toBe(0);
      expect(done.stdout).toContain(`cancelled the running query of session ${pid}`);
      expect(await sleeping).toBe("57014");
    } finally {
      await victim.end();
    }
  });

  it("refuses a pid that is not one, a session nobody has, and --yes without a signal", async () => {
    const notPid = await inspect(["terminate", "12abc"]);
    expect(notPid.code).toBe(2);
    expect(notPid.stderr).toContain('error: "12abc" is not a pid');
    const nobody = await inspect(["terminate", "2147483647", "--yes"]);
    expect(nobody.code).toBe(1);
    expect(nobody.stderr.trim()).toBe("error: no session with pid 2147483647 on the server");
    const stray = await inspect(["indexes", "--yes"]);
    expect(stray.code).toBe(2);
    expect(stray.stderr).toContain("error: --yes goes with cancel or terminate");
  });
});

describe("formatTable", () => {
  it("reads units off the column names and right-aligns numbers", () => {
    expect(cell("sizeBytes", 104857600)).toBe("100.0 MB");
    expect(cell("usageRatio", 0.125)).toBe("12.5%");
    expect(cell("freezeRatio", 1.25)).toBe("125.0%");
    expect(cell("lockWaitSeconds", 2.25)).toBe("2.3 s");
    expect(cell("meanMs", 21)).toBe("21.0 ms");
    expect(cell("blockedBy", [1, 2])).toBe("1,2");
    expect(cell("lastVacuum", null)).toBe("-");
    expect(
      formatTable([
        { name: "a", calls: 5 },
        { name: "bb", calls: 120 },
      ]),
    ).toBe(["  name  calls", "  ----  -----", "  a         5", "  bb      120"].join("\n"));
    expect(formatTable([])).toBe("  (none)");
  });
});
