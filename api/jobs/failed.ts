import { z } from "zod";
import { recordUndeliveredJob } from "../../functions/job-failures.js";
import { ApiError } from "../../lib/http/errors.js";
import { jobFailureReport } from "../../lib/http/qstash.js";
import { route } from "../../lib/http/route.js";

/** QStash's failure callback: the destination it gave up on, the message (base64) and the last answer. */
const report = z.object({
  url: z.string().url(),
  sourceBody: z.string().base64("must be base64"),
  status: z.number().int().optional(),
  retried: z.number().int().nonnegative().optional(),
});

function messageOf(sourceBody: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(Buffer.from(sourceBody, "base64").toString("utf8"));
    if (value !== null && typeof value === "object" && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // answered below
  }
  throw new ApiError("BAD_REQUEST", "sourceBody must be a base64 JSON object");
}

/** POST /api/jobs/failed: QStash gave up delivering a job to the worker; signed for PUBLIC_URL + this path. */
export const POST = route(async (request) => {
  const { url, sourceBody, status, retried } = await jobFailureReport(request, report);
  return Response.json(await recordUndeliveredJob({ url, message: messageOf(sourceBody), lastStatus: status, retried }));
});
