import * as v from "valibot";
import { adminRoute } from "../../lib/http/ops-auth.js";
import { jsonBody } from "../../lib/http/input.js";
import { text } from "../../lib/http/schemas.js";
import { MODES, platformMode, setPlatformMode } from "../../lib/platform/mode.js";

const change = v.strictObject({
  mode: v.picklist(MODES, `must be one of ${MODES.join(", ")}`),
  reason: v.optional(text(1, 200)),
});

/** GET /api/admin/mode: the platform's mode; Bearer ADMIN_TOKEN. */
export const GET = adminRoute(async () => {
  return Response.json(await platformMode());
});

/** PUT /api/admin/mode: {"mode": "normal|read-only|maintenance", "reason"?}; Bearer ADMIN_TOKEN. */
export const PUT = adminRoute(async (request) => {
  const { mode, reason } = await jsonBody(request, change, 4096);
  return Response.json(await setPlatformMode(mode, reason ?? null));
});
