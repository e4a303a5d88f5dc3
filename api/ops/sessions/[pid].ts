import * as v from "valibot";
import { signalSession } from "../../../functions/session-signal.js";
import { jsonBody, routeParam } from "../../../lib/http/input.js";
import { opsRoute, privateJson } from "../../../lib/http/ops-auth.js";
import { directDb } from "../../../lib/db/pool.js";

const pid = v.pipe(
  v.string("must be a process id"),
  v.regex(/^[1-9][0-9]{0,9}$/, "must be a process id"),
  v.transform(Number),
  v.check((n) => n <= 2 ** 31 - 1, "must be a process id"),
);
const signal = v.strictObject({ action: v.picklist(["cancel", "terminate"], "must be cancel or terminate") });

/** POST /api/ops/sessions/:pid {"action": "cancel"|"terminate"}: stops the session's query, or the session (same origin with the cookie). */
export const POST = opsRoute("change", async (request) => {
  const target = routeParam(request, "pid", pid);
  const { action } = await jsonBody(request, signal, 1024);
  return privateJson(await signalSession(directDb(), target, action, { confirmed: true }));
});
