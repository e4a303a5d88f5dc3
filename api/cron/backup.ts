import { backupCron } from "../../functions/backup.js";
import { config } from "../../lib/config.js";
import { requireBearer } from "../../lib/http/bearer.js";
import { route } from "../../lib/http/route.js";

/** GET /api/cron/backup: Vercel Cron, daily; Bearer CRON_SECRET. Hands the run to the worker (BACKUP_WORKER_URL), or runs it here. */
export const GET = route(async (request) => {
  requireBearer(request, config().cronSecret, "CRON_SECRET");
  return Response.json(await backupCron());
});
