/**
 * PostgreSQL's own client programs, pg_dump and pg_restore: found, checked against the
 * server's major version, and run with the connection given through libpq's environment,
 * so the password never appears in a process list or a log line.
 */
import { execFile, execFileSync } from "node:child_process";
import { readdirSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { PgToolError } from "./errors.js";

export type PgProgram = "pg_dump" | "pg_restore";

export interface PgTool {
  path: string;
  major: number;
}

const DEBIAN_ROOT = "/usr/lib/postgresql";

function majorOf(program: string): number | undefined {
  try {
    const version = execFileSync(program, ["--version"], { stdio: ["ignore", "pipe", "ignore"] }).toString();
    const major = Number(version.match(/\(PostgreSQL\) (\d+)/)?.[1]);
    return Number.isInteger(major) ? major : undefined;
  } catch {
    return undefined;
  }
}

function candidates(program: PgProgram, binDir: string | undefined): string[] {
  if (binDir) return [path.join(binDir, program)];
  let debian: string[] = [];
  try {
    debian = readdirSync(DEBIAN_ROOT)
      .filter((version) => /^\d+$/.test(version))
      .sort((a, b) => Number(b) - Number(a))
      .map((version) => path.join(DEBIAN_ROOT, version, "bin", program));
  } catch {
    // not Debian's layout
  }
  return [...debian, program];
}

/**
 * The program at PG_BIN_DIR, else the newest of Debian's installations and the PATH, of
 * major version `minMajor` or newer (pg_dump cannot dump a newer server than itself).
 */
export function pgTool(program: PgProgram, minMajor: number, binDir?: string): PgTool {
  const found = candidates(program, binDir).flatMap((candidate) => {
    const major = majorOf(candidate);
    return major === undefined ? [] : [{ path: candidate, major }];
  });
  const usable = found.find((tool) => tool.major >= minMajor);
  if (usable) return usable;
  const where = binDir ? `in PG_BIN_DIR (${binDir})` : "on this machine";
  const seen = found.length ? ` (found ${found.map((t) => `${t.path} ${t.major}`).join(", ")})` : "";
  throw new PgToolError(
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
    "--host", url.hostname,
    "--port", url.port || "5432",
    "--username", decodeURIComponent(url.username || "postgres"),
    "--dbname", decodeURIComponent(url.pathname.slice(1) || "postgres"),
  ];
  return { args, env };
}

const execFileAsync = promisify(execFile);

/**
 * Runs the program with only the environment given (the connection's, and C messages), so
 * no stray PG* variable of this process steers it elsewhere. A failure carries its last
 * error lines (libpq's messages name no password).
 */
export async function runPgTool(tool: PgTool, args: string[], env: Record<string, string>): Promise<string> {
  try {
    const { stdout } = await execFileAsync(tool.path, args, { env: { ...env, LC_ALL: "C" }, maxBuffer: 64 * 1024 * 1024 });
    return stdout;
  } catch (error) {
    const stderr = String((error as { stderr?: unknown }).stderr ?? "").trim();
    const lines = stderr.split("\n").filter(Boolean).slice(-3).join(" / ");
    throw new PgToolError(`${path.basename(tool.path)} failed: ${lines || (error instanceof Error ? error.message : "unknown error")}`);
  }
}
