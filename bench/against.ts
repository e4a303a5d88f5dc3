/**
 * An earlier commit's build, for a benchmark to run beside today's (`--against <git ref>`): the
 * commit's files (git archive) in a temporary folder, its own dependencies installed from its
 * lock file (npm's cache makes this seconds), its postgres.js patch applied, and its
 * bench/serve.ts started as today's is. A regression then shows as a ratio before it lands.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../", import.meta.url));

export interface AgainstBuild {
  /** The ref as given, and the commit it names. */
  ref: string;
  commit: string;
  dir: string;
  remove(): Promise<void>;
}

/** The commit `ref` names, or an Error saying it names none. */
function commitOf(ref: string): string {
  try {
    return execFileSync("git", ["rev-parse", "--verify", "--quiet", `${ref}^{commit}`], { cwd: ROOT, encoding: "utf8" }).trim();
  } catch {
    throw new Error(`--against ${ref}: not a commit of this repository (git rev-parse found none)`);
  }
}

/** The files of `ref` with their dependencies installed, ready to serve. */
export async function againstBuild(ref: string, log: (message: string) => void): Promise<AgainstBuild> {
  const commit = commitOf(ref);
  const dir = await mkdtemp(path.join(tmpdir(), `gap-against-${commit.slice(0, 8)}-`));
  const remove = () => rm(dir, { recursive: true, force: true });
  try {
    log(`--against ${ref}: ${commit.slice(0, 12)}'s files in ${dir}, its dependencies from its lock file`);
    execFileSync("sh", ["-c", `git archive --format=tar ${commit} | tar -x -C "$1"`, "sh", dir], { cwd: ROOT, stdio: ["ignore", "ignore", "inherit"] });
    if (!existsSync(path.join(dir, "bench/serve.ts"))) throw new Error(`--against ${ref}: that commit has no bench/serve.ts to start its server with`);
    // No install scripts: the embedded PostgreSQL's binaries are not what is measured.
    execFileSync("npm", ["ci", "--ignore-scripts", "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error"], {
      cwd: dir,
      stdio: ["ignore", "ignore", "inherit"],
    });
    if (existsSync(path.join(dir, "patches"))) execFileSync("npx", ["--no-install", "patch-package"], { cwd: dir, stdio: ["ignore", "ignore", "inherit"] });
  } catch (error) {
    await remove();
    throw error;
  }
  return { ref, commit, dir, remove };
}

/** That build's bench/serve.ts `args`, in its own process, once it listens. */
export async function startAgainstServer(build: AgainstBuild, args: string[], env: Record<string, string>): Promise<{ port: number; child: ChildProcess }> {
  const child = spawn(path.join(build.dir, "node_modules/.bin/tsx"), ["bench/serve.ts", ...args], {
    cwd: build.dir,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout?.on("data", (chunk: Buffer) => {
      const match = /listening (\d+)/.exec(chunk.toString());
      if (match?.[1]) resolve(Number(match[1]));
    });
    child.once("exit", (code) => reject(new Error(`${build.ref}'s server exited with ${code}`)));
  });
  return { port, child };
}
