import { statsSnapshotJob } from "../../functions/stats-snapshot.js";
import { requireScheduler } from "../../lib/http/scheduler.js";
import { route } from "../../lib/http/route.js";

/** /api/cron/stats-snapshot, every 5 minutes (lib/jobs/schedules.ts): QStash's signed POST or Vercel Cron's GET with Bearer CRON_SECRET. */
const handler = route(async (request) => {
  await requireScheduler(request, "stats-snapshot");
  return Response.json(await statsSnapshotJob());
});
export const GET = handler;
export const POST = handler;
