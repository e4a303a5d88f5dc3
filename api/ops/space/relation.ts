import * as v from "valibot";
import { relationView } from "../../../functions/dashboard.js";
import { ApiError } from "../../../lib/http/errors.js";
import { queryOf } from "../../../lib/http/input.js";
import { opsRoute, privateJson } from "../../../lib/http/ops-auth.js";
import { text, windowQuery } from "../../../lib/http/schemas.js";

const relationQuery = v.object({
  ...windowQuery.entries,
  schema: text(1, 63),
  name: text(1, 63),
});

/** GET /api/ops/space/relation?schema=&name=&window=: one table's or index's size over the window (hourly), and its growth now. */
export const GET = opsRoute("read", async (request) => {
  const { window, schema, name } = queryOf(request, relationQuery);
  const view = await relationView(window, schema, name);
  if (!view) throw new ApiError("NOT_FOUND", `no table or index ${schema}.${name}, now or in the history`);
  return privateJson(view);
});
