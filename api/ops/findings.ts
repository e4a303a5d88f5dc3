import { findingsView } from "../../functions/findings.js";
import { opsRoute, privateJson } from "../../lib/http/ops-auth.js";

/** GET /api/ops/findings: every db:inspect finding of the indexes, maintenance and advice checks, with what to run. */
export const GET = opsRoute("read", async () => {
  return privateJson(await findingsView());
});
