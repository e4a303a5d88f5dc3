/** A command-line entry point run to its end in a child process, as `npm run` runs it (compiled ahead: test/harness/compiled-scripts.ts). */
import { spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { inject } from "vitest";
import { COMPILED_SCRIPTS } from "./compiled-scripts.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

export interface ScriptRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface ScriptOptions {
  /** Through tsx from the source, as `npm run` starts it, rather than compiled ahead (test/harness/compiled-scripts.ts): slower, the same code. */
  tsx?: boolean;
}

/** The command that starts `scripts/<name>.ts`: compiled ahead where it can be. */
function commandOf(name: string, { tsx = false }: ScriptOptions): [string, string[]] {
  if (!tsx && (COMPILED_SCRIPTS as readonly string[]).includes(name)) return [process.execPath, [path.join(inject("scriptsDir"), `${name}.mjs`)]];
  return [path.join(ROOT, "node_modules/.bin/tsx"), [`scripts/${name}.ts`]];
}

/** Runs `scripts/<name>.ts` with `args`, and `env` over this process's environment. */
export function runScript(name: string, args: string[], env: Record<string, string> = {}, options: ScriptOptions = {}): Promise<ScriptRun> {
  const [command, start] = commandOf(name, options);
  return new Promise((resolve) => {
    const child = spawn(command, [...start, ...args], { cwd: ROOT, env: { ...process.env, ...env } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.once("exit", (code) => resolve({ code, stdout, stderr }));
  });
}
