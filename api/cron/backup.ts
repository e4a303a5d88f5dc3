import { backupCron } from "../../functions/backup.js";
import { requireScheduler } from "../../lib/http/scheduler.js";
import { route } from "../../lib/http/route.js";

/**
 * /api/cron/backup, daily (lib/jobs/schedules.ts): hands the run to the worker (BACKUP_WORKER_URL),
 * or runs it here. Vercel Cron's GET with Bearer CRON_SECRET or QStash's signed POST.
 */
const handler = route(async (request) => {
  await requireScheduler(request, "backup");
  return Response.json(await backupCron());
});
export const GET = handler;
export const POST = handler;
