import { activity } from "../../functions/dashboard.js";
import { privateJson, requireOps } from "../../lib/http/ops-auth.js";
import { route } from "../../lib/http/route.js";

/** GET /api/ops/activity: connection usage, running queries and the blocking tree, now. */
export const GET = route(async (request) => {
  await requireOps(request);
  return privateJson(await activity());
});
