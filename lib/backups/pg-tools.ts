/**
 * PostgreSQL's own client programs, pg_dump and pg_restore: found by absolute path, the one
 * matching the server's major version preferred, and run with the connection given through
 * libpq's environment, so the password never appears in a process list or a log line.
 */
import { execFileSync, spawn } from "node:child_process";
import { accessSync, constants, readdirSync } from "node:fs";
import path from "node:path";
import type { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { config } from "../config.js";
import { BackupToolError } from "./errors.js";

export type PgProgram = "pg_dump" | "pg_restore";

export interface PgTool {
  /** Absolute: the program runs with an environment that has no PATH. */
  path: string;
  major: number;
}

const DEBIAN_ROOT = "/usr/lib/postgresql";

function majorOf(program: string): number | undefined {
  try {
    const version = execFileSync(program, ["--version"], { stdio: ["ignore", "pipe", "ignore"], env: { LC_ALL: "C" } }).toString();
    const major = Number(version.match(/\(PostgreSQL\) (\d+)/)?.[1]);
    return Number.isInteger(major) ? major : undefined;
  } catch {
    return undefined;
  }
}

function executable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** PG_BIN_DIR alone when set; else Debian's installations, newest first, then each folder of the PATH. */
function candidates(program: PgProgram, binDir: string | undefined): string[] {
  if (binDir) return [path.resolve(binDir, program)];
  let debian: string[] = [];
  try {
    debian = readdirSync(DEBIAN_ROOT)
      .filter((version) => /^\d+$/.test(version))
      .sort((a, b) => Number(b) - Number(a))
      .map((version) => path.join(DEBIAN_ROOT, version, "bin", program));
  } catch {
    // not Debian's layout
  }
  const onPath = config()
    .searchPath.filter((dir) => path.isAbsolute(dir))
    .map((dir) => path.join(dir, program));
  return [...new Set([...debian, ...onPath])].filter(executable);
}

/**
 * The program of major version `minMajor` or newer (pg_dump cannot dump a newer server than
 * itself; pg_restore cannot read a newer archive): the one of `preferMajor` when installed,
 * else the newest. PG_BIN_DIR, when set, is the only place looked at.
 */
export function pgTool(program: PgProgram, minMajor: number, binDir?: string, preferMajor: number = minMajor): PgTool {
  const found = candidates(program, binDir).flatMap((candidate) => {
    const major = majorOf(candidate);
    return major === undefined ? [] : [{ path: candidate, major }];
  });
  const usable = found.filter((tool) => tool.major >= minMajor).sort((a, b) => b.major - a.major);
  const chosen = usable.find((tool) => tool.major === preferMajor) ?? usable[0];
  if (chosen) return chosen;
  const where = binDir ? `in PG_BIN_DIR (${binDir})` : "on this machine";
  const seen = found.length ? ` (found ${found.map((t) => `${t.path} ${t.major}`).join(", ")})` : "";
  throw new BackupToolError(
    `${program} ${minMajor} or newer is not ${where}${seen}: install PostgreSQL ${minMajor}'s client programs ` +
      `(Debian: apt-get install postgresql-client-${minMajor}) or set PG_BIN_DIR`,
  );
}

/** libpq's command-line arguments and environment for a connection URL. */
export function libpqConnection(rawUrl: string, applicationName: string): { args: string[]; env: Record<string, string> } {
  const url = new URL(rawUrl);
  const env: Record<string, string> = { PGAPPNAME: applicationName };
  if (url.password) env.PGPASSWORD = decodeURIComponent(url.password);
  const sslmode = url.searchParams.get("sslmode");
  if (sslmode) env.PGSSLMODE = sslmode;
  const args = [
    "--host",
    url.hostname.replace(/^\[(.*)\]$/, "$1"),
    "--port",
    url.port || "5432",
    "--username",
    decodeURIComponent(url.username || "postgres"),
    "--dbname",
    decodeURIComponent(url.pathname.slice(1) || "postgres"),
  ];
  return { args, env };
}

const MAX_CAPTURED_BYTES = 64 * 1024 * 1024;

export interface PgToolStreams {
  /** Piped to the program's standard input. The program may stop reading early (pg_restore --list does). */
  stdin?: Readable;
  /** Receives the program's standard output; without it, the output is returned as text. */
  stdout?: Writable;
}

/**
 * Runs the program with only the environment given (the connection's, and C messages), so no
 * stray PG* variable of this process steers it elsewhere. A failure carries its last error
 * lines (libpq's messages name no password); a failing input or output stream wins over the
 * program's own complaint about it.
 */
export async function runPgTool(tool: PgTool, args: string[], env: Record<string, string>, streams: PgToolStreams = {}): Promise<string> {
  const child = spawn(tool.path, args, { env: { ...env, LC_ALL: "C" }, stdio: ["pipe", "pipe", "pipe"] });
  // The start (where the first error is) and the end of what it says, whatever its length.
  let stderrHead = "";
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => {
    if (stderrHead.length < 8192) stderrHead += chunk.toString();
    else stderr = (stderr + chunk.toString()).slice(-8192);
  });
  let captured = "";
  let streamError: Error | undefined;
  const fail = (error: unknown) => {
    streamError ??= error instanceof Error ? error : new Error(String(error));
    child.kill("SIGTERM");
  };
  const exited = new Promise<{ code: number | null; error?: Error }>((resolve) => {
    child.once("error", (error) => resolve({ code: null, error }));
    child.once("close", (code) => resolve({ code }));
  });
  const input = streams.stdin;
  if (input) {
    input.once("error", fail);
    // A program that has read all it wants closes its input: the rest of the stream is not needed.
    child.stdin.on("error", () => input.unpipe(child.stdin));
    input.pipe(child.stdin);
    void exited.then(() => input.destroy());
  } else {
    child.stdin.end();
  }
  const output = streams.stdout
    ? pipeline(child.stdout, streams.stdout).catch(fail)
    : (async () => {
        for await (const chunk of child.stdout) {
          captured += (chunk as Buffer).toString();
          if (captured.length > MAX_CAPTURED_BYTES) fail(new BackupToolError(`${path.basename(tool.path)} printed more than ${MAX_CAPTURED_BYTES} bytes`));
        }
      })();
  const [{ code, error }] = await Promise.all([exited, output]);
  if (streamError) throw streamError;
  if (error) throw new BackupToolError(`${path.basename(tool.path)} could not be run: ${error.message}`);
  if (code !== 0) throw new BackupToolError(`${path.basename(tool.path)} failed: ${failureReason(stderrHead + stderr) || `exit code ${code}`}`);
  return captured;
}

/**
 * What a failing program said, reason first: PostgreSQL's first ERROR (or FATAL) line and the
 * first line of the command it refused. The last lines alone are often the middle of that
 * command's text (a CREATE TABLE over many lines), with the reason scrolled away.
 */
export function failureReason(stderr: string): string {
  const lines = stderr
    .split("\n")
    .map((line) => line.trim())
    .filter(Boolean);
  const reason = lines.find((line) => /\b(?:ERROR|FATAL|PANIC):/.test(line)) ?? lines.find((line) => /\berror:/.test(line));
  if (!reason) return lines.slice(-3).join(" / ");
  const command = lines.find((line) => line.startsWith("Command was:"));
  return command ? `${reason} / ${command.slice(0, 200)}` : reason;
}
