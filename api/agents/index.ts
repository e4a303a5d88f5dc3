import * as v from "valibot";
import { agentsForCaller } from "../../functions/agents.js";
import { authenticatedCaller } from "../../lib/auth/verify.js";
import { apiRoute } from "../../lib/http/api-route.js";
import { queryInt, queryOf } from "../../lib/http/input.js";
import { cursorScope, pageOf, pageWindow } from "../../lib/http/pagination.js";
import { AGENT_STATUSES } from "../../lib/http/schemas.js";

const query = v.object({
  status: v.optional(v.picklist(AGENT_STATUSES, `must be one of ${AGENT_STATUSES.join(", ")}`)),
  limit: v.optional(queryInt(1, 100), "50"),
  cursor: v.optional(v.string()),
});

/** GET /api/agents?status=&limit=&cursor=: the caller's organizations' agents, newest first. */
export const GET = apiRoute("read", async (request) => {
  const { status, limit, cursor } = queryOf(request, query);
  const caller = await authenticatedCaller(request.headers.get("authorization"));
  const scope = cursorScope("agents", caller.userId, status ?? "");
  const window = pageWindow(scope, limit, cursor);
  return Response.json(pageOf(await agentsForCaller(caller, { status, window }), window, scope));
});
