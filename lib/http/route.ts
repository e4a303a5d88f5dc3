/**
 * Wraps a Web-standard handler (Request in, Response out) with a request id and the one
 * error shape. The same module runs on Vercel, under the local server and in tests.
 */
import { randomUUID } from "node:crypto";
import { errorResponse } from "./errors.js";

export interface RequestContext {
  requestId: string;
}

export type Handler = (request: Request) => Promise<Response>;

/** Vercel's id when it sent the request, else a fresh one. */
function requestIdOf(request: Request): string {
  return request.headers.get("x-vercel-id") ?? randomUUID();
}

export function route(handle: (request: Request, context: RequestContext) => Promise<Response>): Handler {
  return async (request) => {
    const requestId = requestIdOf(request);
    try {
      const response = await handle(request, { requestId });
      response.headers.set("x-request-id", requestId);
      return response;
    } catch (error) {
      return errorResponse(error, requestId);
    }
  };
}
