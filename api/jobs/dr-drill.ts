import { z } from "zod";
import { drillJob } from "../../functions/dr-drill.js";
import { workerJobMessage } from "../../lib/http/qstash.js";
import { route } from "../../lib/http/route.js";

/** POST /api/jobs/dr-drill: on the backup worker, the weekly drill the cron handed over, delivered by QStash. */
export const POST = route(async (request) => {
  await workerJobMessage(request, "dr-drill", z.strictObject({}));
  return Response.json(await drillJob());
});
