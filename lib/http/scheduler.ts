/**
 * Who may start a scheduled job: Vercel Cron (`Bearer CRON_SECRET`) or a QStash Schedule (a
 * signature for the job's own URL under PUBLIC_URL), by GET or POST. Nobody else.
 */
import { config, ConfigError } from "../config.js";
import { scheduleUrl, type ScheduledJob } from "../jobs/schedules.js";
import { requireBearer } from "./bearer.js";
import { ApiError } from "./errors.js";
import { guardedRoute, type Handler, type RequestContext } from "./route.js";

/** A schedule's delivery carries no message; anything longer is not one. */
const MAX_SCHEDULED_BODY_BYTES = 1024;

/** Passes for Vercel Cron's bearer or QStash's signature; 401 otherwise, 503 when what would check it is not configured. */
export async function requireScheduler(request: Request, job: ScheduledJob): Promise<void> {
  if (request.headers.has("upstash-signature")) {
    const { publicUrl } = config();
    if (!publicUrl)
      throw new ConfigError("Invalid configuration: PUBLIC_URL must be set to take QStash's schedules (on Vercel it defaults to the production URL)");
    // The QStash client (about 55 ms to import) loads for QStash's deliveries only.
    const { qstashSignedBody } = await import("./qstash.js");
    await qstashSignedBody(request, scheduleUrl(publicUrl, job), MAX_SCHEDULED_BODY_BYTES);
    return;
  }
  if (request.headers.has("authorization")) {
    requireBearer(request, config().cronSecret, "CRON_SECRET");
    return;
  }
  throw new ApiError("UNAUTHORIZED", "a bearer cron secret or an Upstash-Signature is required", { "www-authenticate": "Bearer" });
}

/** A scheduled job's route (/api/cron/<job>): Vercel Cron's bearer or QStash's signature, checked first. */
export function scheduledRoute(job: ScheduledJob, handle: (request: Request, context: RequestContext) => Promise<Response>): Handler {
  return guardedRoute((request) => requireScheduler(request, job), handle);
}
