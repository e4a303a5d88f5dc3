import { statementView } from "../../../functions/dashboard.js";
import { ApiError } from "../../../lib/http/errors.js";
import { int64Text, queryOf, routeParam } from "../../../lib/http/input.js";
import { opsRoute, privateJson } from "../../../lib/http/ops-auth.js";
import { windowQuery } from "../../../lib/http/schemas.js";

/** GET /api/ops/statements/:queryid?window=: one statement's history, deploys and regressions, generic plan and index advice. */
export const GET = opsRoute("read", async (request) => {
  const id = routeParam(request, "id", int64Text);
  const { window } = queryOf(request, windowQuery, ["id"]);
  const view = await statementView(window, id);
  if (!view) throw new ApiError("NOT_FOUND", `no statement ${id} in the history`);
  return privateJson(view);
});
