import { z } from "zod";
import { drillJob } from "../../functions/dr-drill.js";
import { config, ConfigError } from "../../lib/config.js";
import { parsedJson } from "../../lib/http/input.js";
import { qstashSignedBody } from "../../lib/http/qstash.js";
import { route } from "../../lib/http/route.js";
import { workerJobUrl } from "../../lib/jobs/qstash.js";

/** POST /api/jobs/dr-drill: on the backup worker, the weekly drill the cron handed over, delivered by QStash. */
export const POST = route(async (request) => {
  const { workerUrl } = config().backups;
  if (!workerUrl) throw new ConfigError("Invalid configuration: BACKUP_WORKER_URL must be set on the worker");
  parsedJson(await qstashSignedBody(request, workerJobUrl(workerUrl, "dr-drill"), 1024), z.strictObject({}));
  return Response.json(await drillJob());
});
