import { metricsExposition } from "../functions/metrics.js";
import { config } from "../lib/config.js";
import { requireBearer } from "../lib/http/bearer.js";
import { guardedRoute } from "../lib/http/route.js";

/** GET /api/metrics: Prometheus exposition; Bearer METRICS_TOKEN. */
export const GET = guardedRoute(
  (request) => requireBearer(request, config().metricsToken, "METRICS_TOKEN"),
  async () => {
    const { contentType, body } = await metricsExposition();
    return new Response(body, { headers: { "content-type": contentType, "cache-control": "no-store" } });
  },
);
