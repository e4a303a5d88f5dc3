/**
 * The disaster-recovery drill: restore a backup (the newest kept one, or an archive given)
 * into a scratch database, check it the way the application reads it, and record how long
 * recovery took and how old the recovered data was. The scratch database is dropped after.
 */
import { fileURLToPath } from "node:url";
import { restoreBackup } from "../lib/backups/archive.js";
import { DrillError } from "../lib/backups/errors.js";
import { config, ConfigError } from "../lib/config.js";
import { agentWithWorkflows } from "../lib/data/agents.js";
import { failedDrill, newestKeptBackup, startedDrill, succeededDrill } from "../lib/data/backups.js";
import { directDb, singleConnection } from "../lib/db/pool.js";
import { monitored } from "../lib/jobs/monitored.js";
import { publishedJob, workerJobUrl } from "../lib/jobs/qstash.js";

export interface DrillOptions {
  /** An archive or manifest to restore instead of the newest kept backup. */
  file?: string;
  /** The server to restore on (its database is only used to create the scratch one). @default DATABASE_URL */
  serverUrl?: string;
  /** Keep the scratch database for a look around. */
  keep?: boolean;
}

export interface DrillResult {
  id: string;
  backupId: string | null;
  scratchDatabase: string;
  /** From the drill's start to a restored database that passed its checks. */
  recoverySeconds: number;
  /** How old the recovered data was when the drill began. */
  dataAgeSeconds: number;
  tables: number;
  rows: number;
  applicationCheck: string;
  kept: boolean;
}

function urlOfDatabase(serverUrl: string, database: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

/** The application's own read of the newest agent, against the restored database. */
async function applicationCheck(targetUrl: string): Promise<string> {
  const sql = singleConnection(targetUrl);
  try {
    const [newest] = await sql<{ id: string }[]>`select id from agents order by created_at desc, id limit 1`;
    if (!newest) return "no agents to read";
    const [agent] = await agentWithWorkflows(sql, newest.id);
    const workflows = (JSON.parse(agent?.json ?? "{}") as { workflows?: unknown[] }).workflows;
    if (!Array.isArray(workflows)) throw new DrillError(`the restored agent ${newest.id} did not read back with its workflows`);
    return `read agent ${newest.id} with ${workflows.length} workflow(s)`;
  } finally {
    await sql.end();
  }
}

export async function disasterRecoveryDrill({ file, serverUrl, keep = false }: DrillOptions = {}): Promise<DrillResult> {
  const { databaseUrl, backups } = config();
  if (!databaseUrl) throw new ConfigError("Invalid configuration: DATABASE_URL must be set to run a drill");
  const started = performance.now();
  const startedAt = Date.now();
  const newest = file ? undefined : await newestKeptBackup(directDb());
  const archive = file ?? (newest?.location.startsWith("file:") ? fileURLToPath(newest.location) : undefined);
  if (!archive) throw new DrillError("no successful backup with its archive kept here: take one first (npm run db:backup)");
  const { id } = await startedDrill(directDb(), newest?.id ?? null);
  const scratchDatabase = `gap_drill_${id}_${Date.now()}`;
  const server = serverUrl ?? databaseUrl;
  const admin = singleConnection(server);
  let created = false;
  try {
    await admin`create database ${admin(scratchDatabase)}`;
    created = true;
    const targetUrl = urlOfDatabase(server, scratchDatabase);
    const restored = await restoreBackup({ file: archive, targetUrl, binDir: backups.pgBinDir });
    const check = await applicationCheck(targetUrl);
    const recoverySeconds = Math.round((performance.now() - started) / 10) / 100;
    const dataAgeSeconds = Math.max(0, Math.round((startedAt - Date.parse(restored.takenAt)) / 1000));
    await succeededDrill(directDb(), id, { recoverySeconds, dataAgeSeconds, tables: restored.tables, rows: restored.rows });
    return { id, backupId: newest?.id ?? null, scratchDatabase, recoverySeconds, dataAgeSeconds, tables: restored.tables, rows: restored.rows, applicationCheck: check, kept: keep };
  } catch (error) {
    await failedDrill(directDb(), id, error instanceof Error ? error.message : String(error)).catch(() => undefined);
    throw error;
  } finally {
    if (created && !keep) await admin`drop database if exists ${admin(scratchDatabase)} with (force)`.catch(() => undefined);
    await admin.end();
  }
}

/** A drill whose failure fires `job:dr-drill`, resolved by the next drill that succeeds. */
export function drillJob(options: DrillOptions = {}): Promise<DrillResult> {
  return monitored("dr-drill", () => disasterRecoveryDrill(options));
}

export interface HandedOffDrill {
  status: "handed-off";
  messageId: string;
}

/**
 * What the weekly cron does: with BACKUP_WORKER_URL, hand the drill to the worker (where the
 * archives and pg_restore are), one per day however often the cron fires; without, run it here.
 */
export function drillCron(now: Date = new Date()): Promise<DrillResult | HandedOffDrill> {
  const { workerUrl } = config().backups;
  if (!workerUrl) return drillJob();
  return monitored("dr-drill", async () => {
    const { messageId } = await publishedJob(workerJobUrl(workerUrl, "dr-drill"), {}, `dr-drill-${now.toISOString().slice(0, 10)}`);
    return { status: "handed-off", messageId };
  });
}
