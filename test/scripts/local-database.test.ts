/**
 * The db:* commands find `npm start`'s embedded database by themselves when DATABASE_URL is
 * unset (its password kept in LOCAL_DATA_DIR/pg-password), say which they used, and say what
 * to do when there is none.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { freePort } from "../harness/net.js";
import { runScript } from "../harness/scripts.js";

// The test server as a local platform would run it: user postgres on 127.0.0.1 (the embedded one the harness starts).
const server = new URL(inject("superuserUrl"));
const isLikeLocalPlatform = inject("embedded") && server.username === "postgres" && server.hostname === "127.0.0.1";

let dataDir: string;
beforeAll(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), "gap-local-db-"));
});
afterAll(() => rm(dataDir, { recursive: true, force: true }));

const withoutDatabaseUrl = (extra: Record<string, string>) => ({ DATABASE_URL: "", SUPABASE_POOLER_URL: "", LOCAL_DATA_DIR: dataDir, ...extra });

describe("a db:* command without DATABASE_URL", () => {
  it("says how to get a database when npm start has never run here", async () => {
    // Through tsx from the source, as npm run starts it (the other tests run the commands compiled ahead).
    const run = await runScript("inspect", ["connections"], withoutDatabaseUrl({}), { tsx: true });
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(
      `error: Invalid configuration: DATABASE_URL must be set, or run npm start once: its embedded database (password in ${dataDir}/pg-password) is then used\n`,
    );
  });

  it("asks whether npm start is running when its database does not answer", async () => {
    await writeFile(path.join(dataDir, "pg-password"), "not-running-password", { mode: 0o600 });
    const port = await freePort();
    const run = await runScript("inspect", ["connections"], withoutDatabaseUrl({ LOCAL_PG_PORT: String(port) }));
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`using npm start's embedded database, postgres://postgres:***@127.0.0.1:${port}/postgres (DATABASE_URL is unset)\n`);
    expect(run.stderr).toMatch(/error: cannot reach postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:\d+\/postgres \(.*\); is npm start running\?\n$/);
    expect(run.stderr).not.toContain("not-running-password");
  });

  it.runIf(isLikeLocalPlatform)("uses the running local platform's database, and says so", async () => {
    await writeFile(path.join(dataDir, "pg-password"), decodeURIComponent(server.password), { mode: 0o600 });
    const run = await runScript("inspect", ["connections", "--json"], withoutDatabaseUrl({ LOCAL_PG_PORT: server.port }));
    expect(run.stderr).toBe(`using npm start's embedded database, postgres://postgres:***@127.0.0.1:${server.port}/postgres (DATABASE_URL is unset)\n`);
    expect(run.code).toBe(0);
    expect(Object.keys(JSON.parse(run.stdout) as object)).toEqual(["connections"]);
  });
});
