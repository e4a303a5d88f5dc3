/** What the benchmarks share: a platform server in a process of its own, timing a run, the median of runs, progress lines, the jobs' configuration. */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { overrideConfig } from "../lib/config.js";
import { median } from "../lib/median.js";

export { median };

const ROOT = fileURLToPath(new URL("../", import.meta.url));

/**
 * bench/serve.ts with `args` in its own process (so the load generator does not share its event
 * loop), once it listens; its log lines shown, or left out where the benchmark makes it fail.
 */
export async function startServer(
  args: string[],
  env: Record<string, string>,
  { stderr = "inherit" }: { stderr?: "inherit" | "ignore" } = {},
): Promise<{ port: number; child: ChildProcess }> {
  const child = spawn(path.join(ROOT, "node_modules/.bin/tsx"), [path.join(ROOT, "bench/serve.ts"), ...args], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", stderr],
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout?.on("data", (chunk: Buffer) => {
      const match = /listening (\d+)/.exec(chunk.toString());
      if (match?.[1]) resolve(Number(match[1]));
    });
    child.once("exit", (code) => reject(new Error(`server exited with ${code}`)));
  });
  return { port, child };
}

/** A progress line on stderr, stamped with the time of day (UTC): the long benchmarks' log. */
export function progress(message: string): void {
  process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${message}\n`);
}

/** The jobs (backup, restore, drill, snapshot) pointed at a benchmark's own database and folder, with a signing key of its own. */
export function useJobsConfig(databaseUrl: string, root: string): void {
  overrideConfig({
    DATABASE_URL: databaseUrl,
    DB_POOL_PROFILE: "worker",
    BACKUP_DIR: path.join(root, "backups"),
    BACKUP_SIGNING_KEY: randomBytes(32).toString("base64url"),
    PG_BIN_DIR: "",
    LOCAL_DATA_DIR: root,
  });
}

/** Seconds `work` took. */
export async function timedSeconds(work: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await work();
  return (performance.now() - started) / 1000;
}

/** The median milliseconds of `times` runs of `work`, one after another, to the microsecond. */
export async function medianMs(work: () => Promise<unknown>, times: number): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < times; i++) samples.push((await timedSeconds(work)) * 1000);
  return Math.round(median(samples) * 1000) / 1000;
}
