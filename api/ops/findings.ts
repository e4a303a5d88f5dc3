import { findingsView } from "../../functions/findings.js";
import { privateJson, requireOps } from "../../lib/http/ops-auth.js";
import { route } from "../../lib/http/route.js";

/** GET /api/ops/findings: every db:inspect finding of the indexes, maintenance and advice checks, with what to run. */
export const GET = route(async (request) => {
  await requireOps(request);
  return privateJson(await findingsView());
});
