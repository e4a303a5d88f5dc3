import { backupJob } from "../../functions/backup.js";
import { config } from "../../lib/config.js";
import { requireBearer } from "../../lib/http/bearer.js";
import { route } from "../../lib/http/route.js";

/** GET /api/cron/backup: Vercel Cron, daily; Bearer CRON_SECRET. Runs where pg_dump is (the worker, or npm start). */
export const GET = route(async (request) => {
  requireBearer(request, config().cronSecret, "CRON_SECRET");
  return Response.json(await backupJob());
});
