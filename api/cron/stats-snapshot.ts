import { statsSnapshotJob } from "../../functions/stats-snapshot.js";
import { config } from "../../lib/config.js";
import { requireBearer } from "../../lib/http/bearer.js";
import { route } from "../../lib/http/route.js";

/** GET /api/cron/stats-snapshot: Vercel Cron, every 5 minutes; Bearer CRON_SECRET. */
export const GET = route(async (request) => {
  requireBearer(request, config().cronSecret, "CRON_SECRET");
  return Response.json(await statsSnapshotJob());
});
