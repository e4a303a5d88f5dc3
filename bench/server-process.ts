/** What the benchmarks share: a platform server in a process of its own, timing a run, and the median of runs. */
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

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

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[middle] ?? 0) : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
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
