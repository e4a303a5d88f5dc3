import { chmod, mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { overrideConfig } from "../../../lib/config.js";
import { BackupToolError } from "../../../lib/backups/errors.js";
import { pgTool, runPgTool } from "../../../lib/backups/pg-tools.js";
import { testTempDir } from "../../harness/temp.js";

/** A folder holding a stand-in pg_dump that reports `major` and prints its arguments. */
async function fakeTools(root: string, major: number): Promise<string> {
  const dir = path.join(root, `pg${major}`);
  await mkdir(dir);
  const script = `#!/bin/sh\nif [ "$1" = "--version" ]; then echo "pg_dump (PostgreSQL) ${major}.1"; else echo "ran ${major} with $*"; fi\n`;
  await writeFile(path.join(dir, "pg_dump"), script);
  await chmod(path.join(dir, "pg_dump"), 0o755);
  return dir;
}

describe("pg_dump and pg_restore", () => {
  it("found only through the PATH, are run by absolute path (the program's environment has no PATH)", async () => {
    const root = await testTempDir("gap-tools-");
    const dir = await fakeTools(root, 98);
    overrideConfig({ PATH: `${dir}:/usr/bin:/bin`, PG_BIN_DIR: "" });
    const tool = pgTool("pg_dump", 98);
    expect(tool).toEqual({ path: path.join(dir, "pg_dump"), major: 98 });
    expect(await runPgTool(tool, ["--file", "x"], {})).toBe("ran 98 with --file x\n");
  });

  it("match the server's major version where several are installed, else the newest newer one", async () => {
    const root = await testTempDir("gap-tools-");
    const [v97, v98, v99] = [await fakeTools(root, 97), await fakeTools(root, 98), await fakeTools(root, 99)];
    overrideConfig({ PATH: [v99, v97, v98].join(":"), PG_BIN_DIR: "" });
    expect(pgTool("pg_dump", 98).major).toBe(98);
    expect(pgTool("pg_dump", 96, undefined, 96).major).toBe(99);
    expect(() => pgTool("pg_dump", 100)).toThrow(BackupToolError);
    expect(() => pgTool("pg_dump", 100)).toThrow(
      /^pg_dump 100 or newer is not on this machine \(found .*pg99\/pg_dump 99.*\): install PostgreSQL 100's client programs \(Debian: apt-get install postgresql-client-100\) or set PG_BIN_DIR$/,
    );
  });
});
