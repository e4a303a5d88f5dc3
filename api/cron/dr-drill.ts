import { drillCron } from "../../functions/dr-drill.js";
import { config } from "../../lib/config.js";
import { requireBearer } from "../../lib/http/bearer.js";
import { route } from "../../lib/http/route.js";

/** GET /api/cron/dr-drill: Vercel Cron, weekly; Bearer CRON_SECRET. Hands the drill to the worker (BACKUP_WORKER_URL), or runs it here. */
export const GET = route(async (request) => {
  requireBearer(request, config().cronSecret, "CRON_SECRET");
  return Response.json(await drillCron());
});
