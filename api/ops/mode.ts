import * as v from "valibot";
import { jsonBody } from "../../lib/http/input.js";
import { opsRoute, privateJson } from "../../lib/http/ops-auth.js";
import { text } from "../../lib/http/schemas.js";
import { MODES, platformMode, setPlatformMode } from "../../lib/platform/mode.js";

const change = v.strictObject({
  mode: v.picklist(MODES, `must be one of ${MODES.join(", ")}`),
  reason: v.optional(text(1, 200)),
});

/** GET /api/ops/mode: the platform's mode. */
export const GET = opsRoute("read", async () => {
  return privateJson(await platformMode());
});

/** PUT /api/ops/mode {"mode", "reason"?}: sets the mode (same origin with the cookie). */
export const PUT = opsRoute("change", async (request) => {
  const { mode, reason } = await jsonBody(request, change, 4096);
  return privateJson(await setPlatformMode(mode, reason ?? null));
});
