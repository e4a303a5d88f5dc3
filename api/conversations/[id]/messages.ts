import * as v from "valibot";
import { messagesForCaller } from "../../../functions/messages.js";
import { authenticatedCaller } from "../../../lib/auth/verify.js";
import { apiRoute } from "../../../lib/http/api-route.js";
import { ApiError } from "../../../lib/http/errors.js";
import { queryInt, queryOf, routeUuid } from "../../../lib/http/input.js";
import { cursorScope, pageOf, pageWindow } from "../../../lib/http/pagination.js";

const query = v.object({
  limit: v.optional(queryInt(1, 100), "50"),
  cursor: v.optional(v.string()),
  count: v.optional(v.literal("exact", "must be 'exact' when given")),
});

/** GET /api/conversations/:id/messages?limit=&cursor=&count=exact: newest first, keyset-paginated. */
export const GET = apiRoute("read", async (request) => {
  const conversationId = routeUuid(request);
  const { limit, cursor, count } = queryOf(request, query, ["id"]);
  const caller = await authenticatedCaller(request.headers.get("authorization"));
  const scope = cursorScope("messages", conversationId);
  const window = pageWindow(scope, limit, cursor);
  const result = await messagesForCaller(caller, conversationId, { window, countExact: count === "exact" });
  if (!result) throw new ApiError("NOT_FOUND", "conversation not found");
  const page = pageOf(result.rows, window, scope);
  return Response.json(result.total === null ? page : { ...page, total: result.total });
});
