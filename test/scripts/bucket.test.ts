/**
 * `npm run bucket:local`: a bucket on this machine in one command, whose printed settings are
 * all db:backup needs to put a backup there.
 */
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TEST_DATABASE_URL, TEST_SIGNING_KEY } from "../harness/file-database.js";
import { freePort, portAnswers } from "../harness/net.js";
import { runScript } from "../harness/scripts.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

let dataDir: string;
beforeAll(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), "gap-bucket-"));
});
afterAll(() => rm(dataDir, { recursive: true, force: true }));

describe("npm run bucket:local", () => {
  it("starts a bucket, prints its settings, takes a backup made with them, and stops on Ctrl-C", async () => {
    const port = await freePort();
    const child = spawn(path.join(ROOT, "node_modules/.bin/tsx"), ["scripts/bucket.ts", "--port", String(port)], {
      cwd: ROOT,
      env: { ...process.env, LOCAL_DATA_DIR: dataDir },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
    for (let i = 0; i < 300 && !output.includes("Press Ctrl-C"); i++) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(output).toContain(`local bucket gap-backups on http://127.0.0.1:${port} (s3rver; objects in ${path.join(dataDir, "bucket")})`);

    const settings = Object.fromEntries(
      output
        .split("\n")
        .filter((line) => line.startsWith("BACKUP_S3_"))
        .map((line) => line.split("=", 2) as [string, string]),
    );
    expect(Object.keys(settings).sort()).toEqual([
      "BACKUP_S3_ACCESS_KEY_ID",
      "BACKUP_S3_BUCKET",
      "BACKUP_S3_ENDPOINT",
      "BACKUP_S3_FORCE_PATH_STYLE",
      "BACKUP_S3_PREFIX",
      "BACKUP_S3_REGION",
      "BACKUP_S3_SECRET_ACCESS_KEY",
    ]);
    const backup = await runScript("backup", [], {
      ...settings,
      DATABASE_URL: TEST_DATABASE_URL,
      SUPABASE_POOLER_URL: "",
      BACKUP_SIGNING_KEY: TEST_SIGNING_KEY,
      BACKUP_DIR: path.join(dataDir, "archives"),
      LOCAL_DATA_DIR: dataDir,
    });
    expect(backup.stderr).toBe("");
    expect(backup.code).toBe(0);
    expect(backup.stdout).toMatch(/^ {2}bucket {3}s3:\/\/gap-backups\/backups\/gap-\S+\.dump\.zst$/m);

    child.kill("SIGINT");
    expect(await exited).toBe(0);
    expect(await portAnswers(port)).toBe(false);
  });

  it("refuses a port already in use, and a bad bucket name, with one line", async () => {
    const taken = await runScript("bucket", ["--bucket", "Bad_Name"], { LOCAL_DATA_DIR: dataDir });
    expect(taken).toMatchObject({ code: 2, stderr: expect.stringMatching(/^error: --bucket must be a bucket name/) });
    const { createServer } = await import("node:net");
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
    const { port } = blocker.address() as { port: number };
    expect(await runScript("bucket", ["--port", String(port)], { LOCAL_DATA_DIR: dataDir })).toMatchObject({
      code: 1,
      stderr: `error: port ${port} is in use; give another with --port\n`,
    });
    blocker.close();
  });
});
