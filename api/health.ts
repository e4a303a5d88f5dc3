import { health } from "../functions/health.js";
import { route } from "../lib/http/route.js";

/** GET /api/health: 200 when the database answers, 503 naming the failing part when not. */
export const GET = route(async () => {
  const report = await health();
  return Response.json(report, {
    status: report.status === "down" ? 503 : 200,
    headers: { "cache-control": "no-store" },
  });
});
