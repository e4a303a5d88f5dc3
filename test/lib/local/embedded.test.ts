import { rm } from "node:fs/promises";
import path from "node:path";
import postgres from "postgres";
import { describe, expect, it } from "vitest";
import { startEmbeddedPostgres } from "../../../lib/local/embedded.js";
import { freePort, sharedTempDir } from "../../harness/net.js";

async function answers(url: string): Promise<string | true> {
  const sql = postgres(url, { max: 1, onnotice: () => undefined });
  try {
    await sql`select 1`;
    return true;
  } catch (error) {
    return (error as { code?: string }).code ?? "failed";
  } finally {
    await sql.end();
  }
}

describe("the embedded PostgreSQL's superuser password", () => {
  it("replaces the well-known password of a data folder made by an earlier version with the one given", async () => {
    const root = await sharedTempDir("gap-embedded-");
    const dataDir = path.join(root, "pg");
    const port = await freePort();
    try {
      const old = await startEmbeddedPostgres({ dataDir, port, password: "postgres", systemExtensions: [] });
      await old.stop();
      const server = await startEmbeddedPostgres({ dataDir, port, password: "a-generated-password-0123456789", systemExtensions: [] });
      try {
        expect(await answers(server.url)).toBe(true);
        expect(await answers(`postgres://postgres:postgres@127.0.0.1:${port}/postgres`)).toBe("28P01");
      } finally {
        await server.stop();
      }
      const again = await startEmbeddedPostgres({ dataDir, port, password: "a-generated-password-0123456789", systemExtensions: [] });
      expect(await answers(again.url)).toBe(true);
      await again.stop();
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
