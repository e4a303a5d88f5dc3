import { drillCron } from "../../functions/dr-drill.js";
import { scheduledRoute } from "../../lib/http/scheduler.js";

/**
 * /api/cron/dr-drill, weekly (lib/jobs/schedules.ts): hands the drill to the worker (BACKUP_WORKER_URL),
 * or runs it here. Vercel Cron's GET with Bearer CRON_SECRET or QStash's signed POST.
 */
const handler = scheduledRoute("dr-drill", async () => {
  return Response.json(await drillCron());
});
export const GET = handler;
export const POST = handler;
