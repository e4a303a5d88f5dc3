import { tuneView } from "../../functions/tune.js";
import { opsRoute, privateJson } from "../../lib/http/ops-auth.js";

/** GET /api/ops/tune: the settings that matter against the server's size, and the changes of the last 7 days. */
export const GET = opsRoute("read", async () => privateJson(await tuneView()));
