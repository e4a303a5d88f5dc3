import { recoveryPointCheck } from "../../functions/backup.js";
import { config } from "../../lib/config.js";
import { requireBearer } from "../../lib/http/bearer.js";
import { route } from "../../lib/http/route.js";

/** GET /api/cron/backup-rpo: Vercel Cron, every 15 minutes; Bearer CRON_SECRET. The recovery point watchdog. */
export const GET = route(async (request) => {
  requireBearer(request, config().cronSecret, "CRON_SECRET");
  return Response.json(await recoveryPointCheck());
});
