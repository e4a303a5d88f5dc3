/**
 * `npm run worker`: the functions served on a machine of your own, for the work Vercel cannot
 * do (pg_dump backups handed over by the backup cron through QStash). It needs DATABASE_URL,
 * runs no schedules (Vercel Cron and QStash call the deployment's) and applies no migrations.
 * Put it behind HTTPS at BACKUP_WORKER_URL.
 */
import { fileURLToPath } from "node:url";
import { config, ConfigError } from "../lib/config.js";
import { privateBackupDir } from "../lib/backups/private-files.js";
import { closeDbPools } from "../lib/db/pool.js";
import { redactedUrl } from "../lib/db/target.js";
import { createLocalServer, listening } from "../lib/server/server.js";
import { runCli } from "./cli.js";

const API_DIR = fileURLToPath(new URL("../api/", import.meta.url));

await runCli(async () => {
  const { databaseUrl, backups, qstash } = config();
  const missing = [
    ...(databaseUrl ? [] : ["DATABASE_URL"]),
    ...(backups.workerUrl ? [] : ["BACKUP_WORKER_URL"]),
    ...(qstash.currentSigningKey && qstash.nextSigningKey ? [] : ["QSTASH_CURRENT_SIGNING_KEY", "QSTASH_NEXT_SIGNING_KEY"]),
    ...(backups.signingKey ? [] : ["BACKUP_SIGNING_KEY"]),
  ];
  if (missing.length) throw new ConfigError(`Invalid configuration: the worker needs ${missing.join(", ")}`);
  await privateBackupDir(backups.dir);
  const server = await createLocalServer({ apiDir: API_DIR });
  const { port } = await listening(server, config().port, config().host);
  console.log(`worker ready on http://localhost:${port} (public URL ${backups.workerUrl}), database ${redactedUrl(databaseUrl ?? "")}`);
  await new Promise<void>((resolve) => {
    const stop = () => {
      server.close(() => resolve());
      server.closeAllConnections();
    };
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
  await closeDbPools();
  console.log("worker stopped");
});
