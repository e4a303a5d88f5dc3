import * as v from "valibot";
import { explainStatement } from "../../../../functions/explain-statement.js";
import { int64Text, jsonBody, routeParam } from "../../../../lib/http/input.js";
import { opsRoute, privateJson } from "../../../../lib/http/ops-auth.js";
import { text } from "../../../../lib/http/schemas.js";

const run = v.strictObject({
  /** The values of $1 … $n, as text: the server reads each by the type the statement gives it. */
  params: v.optional(v.pipe(v.array(text(0, 10_000), "must be an array of strings"), v.maxLength(100, "must hold at most 100 values")), []),
  /** The operator's yes to running a statement that is not a plain SELECT (it is rolled back). */
  confirm: v.optional(v.boolean("must be true or false"), false),
});

/**
 * POST /api/ops/statements/:queryid/explain {"params": [...], "confirm"?: true}: EXPLAIN
 * (ANALYZE, BUFFERS) of the statement with those values, as the platform's own role, rolled
 * back, under a statement timeout (same origin with the cookie, or the admin bearer). Answers
 * the plan, or why it did not run (another role's statement, a foreign function, a write not
 * yet confirmed).
 */
export const POST = opsRoute("change", async (request) => {
  const id = routeParam(request, "id", int64Text);
  const { params, confirm } = await jsonBody(request, run, 256 * 1024);
  return privateJson(await explainStatement(id, params, { confirmed: confirm }));
});
