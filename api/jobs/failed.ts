import * as v from "valibot";
import { recordUndeliveredMessage } from "../../functions/job-failures.js";
import { ApiError } from "../../lib/http/errors.js";
import { jobFailureReport } from "../../lib/http/qstash.js";
import { route } from "../../lib/http/route.js";

/** QStash's failure callback: the destination it gave up on, the message (base64), its id and the last answer. */
const report = v.object({
  url: v.pipe(v.string("must be a URL"), v.url("must be a URL")),
  sourceBody: v.pipe(v.string("must be base64"), v.base64("must be base64")),
  sourceMessageId: v.optional(v.pipe(v.string("must be a QStash message id"), v.regex(/^[\w-]{1,128}$/, "must be a QStash message id"))),
  status: v.optional(v.pipe(v.number("must be a whole number"), v.integer("must be a whole number"))),
  retried: v.optional(v.pipe(v.number("must be a whole number"), v.integer("must be a whole number"), v.minValue(0, "must be a whole number"))),
});

function parsedJobMessage(sourceBody: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(Buffer.from(sourceBody, "base64").toString("utf8"));
    if (value !== null && typeof value === "object" && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // answered below
  }
  throw new ApiError("BAD_REQUEST", "sourceBody must be a base64 JSON object");
}

/** POST /api/jobs/failed: QStash gave up delivering a job to the worker or an alert to the webhook; signed for PUBLIC_URL + this path. */
export const POST = route(async (request) => {
  const { url, sourceBody, sourceMessageId, status, retried } = await jobFailureReport(request, report);
  return Response.json(await recordUndeliveredMessage({ url, message: parsedJobMessage(sourceBody), lastStatus: status, retried, messageId: sourceMessageId }));
});
