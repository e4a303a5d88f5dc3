import * as v from "valibot";
import { statementsView } from "../../../functions/dashboard.js";
import { STATEMENT_SORTS } from "../../../lib/data/history.js";
import { queryOf } from "../../../lib/http/input.js";
import { opsRoute, privateJson } from "../../../lib/http/ops-auth.js";
import { text, windowQuery } from "../../../lib/http/schemas.js";

const LIMITS = ["20", "100", "all"] as const;

const statementsQuery = v.object({
  ...windowQuery.entries,
  sort: v.optional(v.picklist(STATEMENT_SORTS, `must be one of ${STATEMENT_SORTS.join(", ")}`), "total"),
  limit: v.optional(v.picklist(LIMITS, `must be one of ${LIMITS.join(", ")}`), "20"),
  q: v.optional(text(0, 200)),
  platform: v.optional(v.picklist(["show", "hide"], "must be show or hide"), "show"),
});

/**
 * GET /api/ops/statements?window=&sort=total|mean|calls&limit=20|100|all&q=&platform=show|hide:
 * the window's statements sorted, searched, with or without the platform's own (ops.*), each
 * with the roles that ran it; the first with sparklines.
 */
export const GET = opsRoute("read", async (request) => {
  const { window, sort, limit, q, platform } = queryOf(request, statementsQuery);
  return privateJson(
    await statementsView(window, { sort, limit: limit === "all" ? null : Number(limit), search: q?.trim() || undefined, hidePlatform: platform === "hide" }),
  );
});
