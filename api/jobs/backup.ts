import * as v from "valibot";
import { requestedBackupJob } from "../../functions/backup.js";
import { workerJobMessage } from "../../lib/http/qstash.js";
import { route } from "../../lib/http/route.js";

const message = v.object({ backupId: v.pipe(v.string("must be a backup id"), v.regex(/^\d{1,18}$/, "must be a backup id")) });

/** POST /api/jobs/backup: on the backup worker, a run the cron handed over, delivered (and retried) by QStash. */
export const POST = route(async (request) => {
  const { backupId } = await workerJobMessage(request, "backup", message);
  return Response.json(await requestedBackupJob(backupId));
});
