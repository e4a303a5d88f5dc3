import { activity } from "../../functions/dashboard.js";
import { opsRoute, privateJson } from "../../lib/http/ops-auth.js";

/** GET /api/ops/activity: connection usage, running queries and the blocking tree, now. */
export const GET = opsRoute("read", async () => {
  return privateJson(await activity());
});
