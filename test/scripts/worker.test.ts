/** `npm run worker` as an operator runs it: the real script in a child process, stopped with SIGTERM. */
import { spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it, onTestFinished } from "vitest";
import { TEST_DATABASE_URL, TEST_SIGNING_KEY } from "../harness/file-database.js";
import { freePort } from "../harness/net.js";
import { testTempDir } from "../harness/temp.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

function worker(env: Record<string, string>) {
  const inherited = { ...process.env };
  for (const name of [
    "DATABASE_URL",
    "BACKUP_WORKER_URL",
    "QSTASH_CURRENT_SIGNING_KEY",
    "QSTASH_NEXT_SIGNING_KEY",
    "CRON_SECRET",
    "BACKUP_SIGNING_KEY",
    "BACKUP_DIR",
  ]) {
    delete inherited[name];
  }
  const child = spawn(path.join(ROOT, "node_modules/.bin/tsx"), ["scripts/worker.ts"], { cwd: ROOT, env: { ...inherited, ...env } });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { child, output: () => output, exited };
}

describe("npm run worker", () => {
  it("refuses to start without what it needs, naming all of it, with exit 1", async () => {
    const run = worker({ DATABASE_URL: TEST_DATABASE_URL });
    expect(await run.exited).toBe(1);
    expect(run.output().trim()).toBe(
      "error: Invalid configuration: the worker needs BACKUP_WORKER_URL, QSTASH_CURRENT_SIGNING_KEY, QSTASH_NEXT_SIGNING_KEY, BACKUP_SIGNING_KEY",
    );
  });

  it("serves the job endpoint, refusing unsigned deliveries, and stops cleanly on SIGTERM", async () => {
    const port = await freePort();
    const run = worker({
      DATABASE_URL: TEST_DATABASE_URL,
      PORT: String(port),
      BACKUP_WORKER_URL: "https://backup-worker.example.com",
      QSTASH_CURRENT_SIGNING_KEY: "sig_current_0123456789abcdefghij",
      QSTASH_NEXT_SIGNING_KEY: "sig_next_0123456789abcdefghijklm",
      BACKUP_SIGNING_KEY: TEST_SIGNING_KEY,
      BACKUP_DIR: await testTempDir("gap-worker-"),
    });
    // A failed assertion must not leave the worker running.
    onTestFinished(() => {
      if (run.child.exitCode === null) run.child.kill("SIGKILL");
    });
    await expect.poll(() => run.output(), { timeout: 20_000 }).toContain("worker ready on http://localhost:");
    expect(run.output()).toContain("(public URL https://backup-worker.example.com)");
    if (new URL(TEST_DATABASE_URL).password) expect(run.output()).toMatch(/database postgres:\/\/[^:]+:\*\*\*@/);
    const response = await fetch(`http://127.0.0.1:${port}/api/jobs/backup`, { method: "POST", body: '{"backupId":"1"}' });
    expect(response.status).toBe(401);
    run.child.kill("SIGTERM");
    expect(await run.exited).toBe(0);
    expect(run.output()).toContain("worker stopped");
  });
});
