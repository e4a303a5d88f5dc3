import * as v from "valibot";
import { drillJob, requestedDrillJob } from "../../functions/dr-drill.js";
import { workerJobMessage } from "../../lib/http/qstash.js";
import { route } from "../../lib/http/route.js";

/** A drill the cron recorded as requested; an older message without an id runs a drill of its own. */
const message = v.strictObject({ drillId: v.optional(v.pipe(v.string("must be a drill id"), v.regex(/^\d{1,18}$/, "must be a drill id"))) });

/** POST /api/jobs/dr-drill: on the backup worker, the weekly drill the cron handed over, delivered by QStash. */
export const POST = route(async (request) => {
  const { drillId } = await workerJobMessage(request, "dr-drill", message);
  return Response.json(await (drillId ? requestedDrillJob(drillId) : drillJob()));
});
