import { recoveryWatchdog } from "../../functions/backup.js";
import { requireScheduler } from "../../lib/http/scheduler.js";
import { route } from "../../lib/http/route.js";

/**
 * /api/cron/backup-rpo, every 15 minutes (lib/jobs/schedules.ts): the recovery watchdog (the recovery point, and the
 * recovery time projected for today's size). QStash's signed POST or Vercel Cron's GET with Bearer CRON_SECRET.
 */
const handler = route(async (request) => {
  await requireScheduler(request, "backup-rpo");
  return Response.json(await recoveryWatchdog());
});
export const GET = handler;
export const POST = handler;
