/**
 * The customer-facing API's routes: `route` plus the platform mode. In maintenance every such
 * route answers 503 MAINTENANCE; read-only refuses writes with 503 READ_ONLY and serves reads.
 * Operations endpoints (health, metrics, crons, jobs, admin) use `route` and are never closed.
 */
import { platformMode } from "../platform/mode.js";
import { ApiError } from "./errors.js";
import { route, type Handler, type RequestContext } from "./route.js";

/** Seconds a client should wait before trying a closed platform again. */
const MODE_RETRY_AFTER_SECONDS = 30;

export type Access = "read" | "write";

async function admitted(access: Access): Promise<void> {
  const { mode, reason } = await platformMode();
  const headers = { "retry-after": String(MODE_RETRY_AFTER_SECONDS) };
  const because = reason ? `: ${reason}` : "";
  if (mode === "maintenance") throw new ApiError("MAINTENANCE", `The platform is in maintenance${because}`, headers);
  if (mode === "read-only" && access === "write") throw new ApiError("READ_ONLY", `The platform is read-only${because}`, headers);
}

export function apiRoute(access: Access, handle: (request: Request, context: RequestContext) => Promise<Response>): Handler {
  return route(async (request, context) => {
    await admitted(access);
    return handle(request, context);
  });
}
