import { statementsView } from "../../../functions/dashboard.js";
import { queryOf } from "../../../lib/http/input.js";
import { opsRoute, privateJson } from "../../../lib/http/ops-auth.js";
import { windowQuery } from "../../../lib/http/schemas.js";

/** GET /api/ops/statements?window=: top statements by total time, mean time and calls over the window, with sparklines. */
export const GET = opsRoute("read", async (request) => {
  const { window } = queryOf(request, windowQuery);
  return privateJson(await statementsView(window));
});
