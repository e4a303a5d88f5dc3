import { statementsView } from "../../../functions/dashboard.js";
import { queryOf } from "../../../lib/http/input.js";
import { privateJson, requireOps } from "../../../lib/http/ops-auth.js";
import { route } from "../../../lib/http/route.js";
import { windowQuery } from "../../../lib/http/schemas.js";

/** GET /api/ops/statements?window=: top statements by total time, mean time and calls over the window, with sparklines. */
export const GET = route(async (request) => {
  const { window } = queryOf(request, windowQuery);
  await requireOps(request);
  return privateJson(await statementsView(window));
});
