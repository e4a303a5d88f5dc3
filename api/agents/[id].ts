import * as v from "valibot";
import { agentForCaller, updateAgentForCaller } from "../../functions/agents.js";
import { authenticatedCaller } from "../../lib/auth/verify.js";
import { ApiError } from "../../lib/http/errors.js";
import { jsonBody, routeUuid } from "../../lib/http/input.js";
import { apiRoute } from "../../lib/http/api-route.js";
import { AGENT_STATUSES, jsonObject, text } from "../../lib/http/schemas.js";

const MAX_BODY_BYTES = 256 * 1024;

const changes = v.pipe(
  v.strictObject({
    name: v.optional(text(1, 200)),
    status: v.optional(v.picklist(AGENT_STATUSES, `must be one of ${AGENT_STATUSES.join(", ")}`)),
    model: v.optional(text(1, 100)),
    system_prompt: v.optional(text(0, 100_000)),
    config: v.optional(jsonObject),
  }),
  v.check((fields) => Object.keys(fields).length > 0, "body must change at least one field"),
);

function agentResponse(json: string, headers: Record<string, string> = {}): Response {
  return new Response(json, { headers: { "content-type": "application/json", ...headers } });
}

/** GET /api/agents/:id: the agent and its workflows (x-cache: hit|miss). */
export const GET = apiRoute("read", async (request) => {
  const agentId = routeUuid(request);
  const caller = await authenticatedCaller(request.headers.get("authorization"));
  const agent = await agentForCaller(caller, agentId);
  if (!agent) throw new ApiError("NOT_FOUND", "agent not found");
  return agentResponse(agent.json, { "x-cache": agent.cache });
});

/** PATCH /api/agents/:id: changes name, status, model, system_prompt or config. */
export const PATCH = apiRoute("write", async (request) => {
  const agentId = routeUuid(request);
  const caller = await authenticatedCaller(request.headers.get("authorization"));
  const fields = await jsonBody(request, changes, MAX_BODY_BYTES);
  const agent = await updateAgentForCaller(caller, agentId, fields);
  if (!agent) throw new ApiError("NOT_FOUND", "agent not found");
  return agentResponse(agent);
});
