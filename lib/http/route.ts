/**
 * Wraps a Web-standard handler (Request in, Response out) with a request id and the one
 * error shape. The same module runs on Vercel, under the local server and in tests.
 */
import { randomUUID } from "node:crypto";
import { config } from "../config.js";
import { errorResponse } from "./errors.js";

export interface RequestContext {
  /** Made on first use: most requests never need one. */
  readonly requestId: string;
}

export type Handler = (request: Request) => Promise<Response>;

/** Who may call a route: passes, or throws the error answered (401, 403, 429, 503). */
export type Guard = (request: Request) => Promise<void> | void;

/** Vercel's id on Vercel, where Vercel sets the header; anywhere else a client could choose it, so a fresh one. */
function requestIdOf(request: Request): string {
  const vercelId = config().onVercel ? request.headers.get("x-vercel-id") : null;
  return vercelId && /^[\w:.-]{1,128}$/.test(vercelId) ? vercelId : randomUUID();
}

/**
 * Errors carry the request id in their body and `x-request-id`; successful responses are
 * returned untouched (Vercel stamps every response with `x-vercel-id`, and changing the
 * headers of a finished Response costs the hot path a copy of it).
 */
export function route(handle: (request: Request, context: RequestContext) => Promise<Response>): Handler {
  return async (request) => {
    let requestId: string | undefined;
    const context = {
      get requestId() {
        requestId ??= requestIdOf(request);
        return requestId;
      },
    };
    try {
      return await handle(request, context);
    } catch (error) {
      return errorResponse(error, context.requestId);
    }
  };
}

/** `route` behind `guard`: the caller is checked before anything of the request is read or parsed. */
export function guardedRoute(guard: Guard, handle: (request: Request, context: RequestContext) => Promise<Response>): Handler {
  return route(async (request, context) => {
    await guard(request);
    return handle(request, context);
  });
}
