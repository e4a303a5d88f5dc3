import { recoveryWatchdog } from "../../functions/backup.js";
import { scheduledRoute } from "../../lib/http/scheduler.js";

/**
 * /api/cron/backup-rpo, every 15 minutes (lib/jobs/schedules.ts): the recovery watchdog (the recovery point, and the
 * recovery time projected for today's size). QStash's signed POST or Vercel Cron's GET with Bearer CRON_SECRET.
 */
const handler = scheduledRoute("backup-rpo", async () => {
  return Response.json(await recoveryWatchdog());
});
export const GET = handler;
export const POST = handler;
