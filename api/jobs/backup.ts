import { z } from "zod";
import { requestedBackupJob } from "../../functions/backup.js";
import { config, ConfigError } from "../../lib/config.js";
import { parsedJson } from "../../lib/http/input.js";
import { qstashSignedBody } from "../../lib/http/qstash.js";
import { route } from "../../lib/http/route.js";
import { workerJobUrl } from "../../lib/jobs/qstash.js";

const message = z.object({ backupId: z.string().regex(/^\d{1,18}$/, "must be a backup id") });

/** POST /api/jobs/backup: on the backup worker, a run the cron handed over, delivered (and retried) by QStash. */
export const POST = route(async (request) => {
  const { workerUrl } = config().backups;
  if (!workerUrl) throw new ConfigError("Invalid configuration: BACKUP_WORKER_URL must be set on the worker");
  const body = await qstashSignedBody(request, workerJobUrl(workerUrl, "backup"), 1024);
  const { backupId } = parsedJson(body, message);
  return Response.json(await requestedBackupJob(backupId));
});
