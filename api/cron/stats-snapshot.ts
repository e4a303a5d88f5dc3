import { statsSnapshotJob } from "../../functions/stats-snapshot.js";
import { scheduledRoute } from "../../lib/http/scheduler.js";

/** /api/cron/stats-snapshot, every 5 minutes (lib/jobs/schedules.ts): QStash's signed POST or Vercel Cron's GET with Bearer CRON_SECRET. */
const handler = scheduledRoute("stats-snapshot", async () => {
  return Response.json(await statsSnapshotJob());
});
export const GET = handler;
export const POST = handler;
