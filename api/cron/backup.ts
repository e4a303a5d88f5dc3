import { backupCron } from "../../functions/backup.js";
import { scheduledRoute } from "../../lib/http/scheduler.js";

/**
 * /api/cron/backup, daily (lib/jobs/schedules.ts): hands the run to the worker (BACKUP_WORKER_URL),
 * or runs it here. Vercel Cron's GET with Bearer CRON_SECRET or QStash's signed POST.
 */
const handler = scheduledRoute("backup", async () => {
  return Response.json(await backupCron());
});
export const GET = handler;
export const POST = handler;
