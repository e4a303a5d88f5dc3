/**
 * A real PgBouncer in front of the test server: in transaction mode (Supabase's pooler on port
 * 6543), where prepared statements and session state do not survive between transactions, or in
 * session mode (the pooler on port 5432, what an IPv4-only worker reaches instead of the direct
 * connection).
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { chown, rm, writeFile } from "node:fs/promises";
import { userInfo } from "node:os";
import path from "node:path";
import { portAnswers, sharedTempDir } from "./net.js";

export interface Pgbouncer {
  /** `postgres://user:password@127.0.0.1:port` without a database. */
  url: string;
  stop(): Promise<void>;
}

export type PoolMode = "transaction" | "session";

export async function startPgbouncer(serverUrl: string, port: number, mode: PoolMode = "transaction"): Promise<Pgbouncer> {
  const server = new URL(serverUrl);
  const user = decodeURIComponent(server.username || "postgres");
  const password = decodeURIComponent(server.password);
  const dir = await sharedTempDir("gap-pgbouncer-");
  const asRoot = userInfo().uid === 0;
  // As root, PgBouncer switches to the postgres user, which must be able to write its log here.
  if (asRoot) await chown(dir, Number(execFileSync("id", ["-u", "postgres"])), Number(execFileSync("id", ["-g", "postgres"])));
  const config = path.join(dir, "pgbouncer.ini");
  await writeFile(path.join(dir, "userlist.txt"), `"${user}" "${password}"\n`, { mode: 0o644 });
  await writeFile(
    config,
    [
      "[databases]",
      `* = host=${server.hostname} port=${server.port || 5432}`,
      "[pgbouncer]",
      "listen_addr = 127.0.0.1",
      `listen_port = ${port}`,
      "unix_socket_dir =",
      `auth_type = ${password ? "scram-sha-256" : "trust"}`,
      `auth_file = ${path.join(dir, "userlist.txt")}`,
      `admin_users = ${user}`,
      `pool_mode = ${mode}`,
      "max_client_conn = 1000",
      "default_pool_size = 20",
      "ignore_startup_parameters = extra_float_digits",
      `logfile = ${path.join(dir, "pgbouncer.log")}`,
      `pidfile = ${path.join(dir, "pgbouncer.pid")}`,
      "",
    ].join("\n"),
    { mode: 0o644 },
  );
  // PgBouncer refuses to run as root.
  const args = asRoot ? ["-u", "postgres", config] : [config];
  const child: ChildProcess = spawn("pgbouncer", args, { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  for (let i = 0; i < 100 && !(await portAnswers(port)); i++) {
    if (child.exitCode !== null) throw new Error(`pgbouncer exited: ${stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const auth = password ? `${encodeURIComponent(user)}:${encodeURIComponent(password)}` : encodeURIComponent(user);
  return {
    url: `postgres://${auth}@127.0.0.1:${port}`,
    stop: async () => {
      child.kill("SIGINT");
      await new Promise((resolve) => (child.exitCode !== null ? resolve(null) : child.once("exit", resolve)));
      await rm(dir, { recursive: true, force: true });
    },
  };
}
