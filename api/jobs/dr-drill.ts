import { z } from "zod";
import { drillJob, requestedDrillJob } from "../../functions/dr-drill.js";
import { workerJobMessage } from "../../lib/http/qstash.js";
import { route } from "../../lib/http/route.js";

/** A drill the cron recorded as requested; an older message without an id runs a drill of its own. */
const message = z.strictObject({ drillId: z.string().regex(/^\d{1,18}$/, "must be a drill id").optional() });

/** POST /api/jobs/dr-drill: on the backup worker, the weekly drill the cron handed over, delivered by QStash. */
export const POST = route(async (request) => {
  const { drillId } = await workerJobMessage(request, "dr-drill", message);
  return Response.json(await (drillId ? requestedDrillJob(drillId) : drillJob()));
});
