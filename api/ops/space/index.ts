import { spaceView } from "../../../functions/dashboard.js";
import { queryOf } from "../../../lib/http/input.js";
import { opsRoute, privateJson } from "../../../lib/http/ops-auth.js";
import { windowQuery } from "../../../lib/http/schemas.js";

/** GET /api/ops/space?window=1h|24h|7d|14d (24h): the dashboard's space view; the session cookie or Bearer ADMIN_TOKEN. */
export const GET = opsRoute("read", async (request) => {
  const { window } = queryOf(request, windowQuery);
  return privateJson(await spaceView(window));
});
