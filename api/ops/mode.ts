import * as v from "valibot";
import { jsonBody } from "../../lib/http/input.js";
import { privateJson, requireOps } from "../../lib/http/ops-auth.js";
import { route } from "../../lib/http/route.js";
import { text } from "../../lib/http/schemas.js";
import { MODES, platformMode, setPlatformMode } from "../../lib/platform/mode.js";

const change = v.strictObject({
  mode: v.picklist(MODES, `must be one of ${MODES.join(", ")}`),
  reason: v.optional(text(1, 200)),
});

/** GET /api/ops/mode: the platform's mode. */
export const GET = route(async (request) => {
  await requireOps(request);
  return privateJson(await platformMode());
});

/** PUT /api/ops/mode {"mode", "reason"?}: sets the mode (same origin with the cookie). */
export const PUT = route(async (request) => {
  const { mode, reason } = await jsonBody(request, change, 4096);
  await requireOps(request, "change");
  return privateJson(await setPlatformMode(mode, reason ?? null));
});
