import { drillCron } from "../../functions/dr-drill.js";
import { requireScheduler } from "../../lib/http/scheduler.js";
import { route } from "../../lib/http/route.js";

/**
 * /api/cron/dr-drill, weekly (lib/jobs/schedules.ts): hands the drill to the worker (BACKUP_WORKER_URL),
 * or runs it here. Vercel Cron's GET with Bearer CRON_SECRET or QStash's signed POST.
 */
const handler = route(async (request) => {
  await requireScheduler(request, "dr-drill");
  return Response.json(await drillCron());
});
export const GET = handler;
export const POST = handler;
