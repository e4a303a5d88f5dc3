/**
 * The local stand-in for Vercel's router: a node:http server that turns each request into
 * a Web `Request`, hands it to the matching `api/` handler and writes its `Response` back.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { randomUUID } from "node:crypto";
import type { Duplex } from "node:stream";
import { ApiError, errorResponse } from "../http/errors.js";
import { allowedMethods, discoverRoutes, matchRoute, methodHandler, moduleLoader, type Route } from "./router.js";

/** Vercel refuses request bodies above 4.5 MB; so does the local server. */
export const MAX_BODY_BYTES = 4.5 * 1024 * 1024;

async function bodyOf(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new ApiError("PAYLOAD_TOO_LARGE", "The request body is larger than 4.5 MB");
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function headersOf(request: IncomingMessage): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(request.headers)) {
    if (Array.isArray(value)) for (const v of value) headers.append(name, v);
    else if (value !== undefined) headers.set(name, value);
  }
  return headers;
}

async function webRequest(request: IncomingMessage, url: URL): Promise<Request> {
  const method = request.method ?? "GET";
  const hasBody = method !== "GET" && method !== "HEAD";
  const body = hasBody ? await bodyOf(request) : undefined;
  return new Request(url, { method, headers: headersOf(request), body: body?.length ? body : undefined });
}

async function send(response: Response, to: ServerResponse, withBody: boolean): Promise<void> {
  const headers: Record<string, string | string[]> = {};
  response.headers.forEach((value, name) => {
    if (name !== "set-cookie") headers[name] = value;
  });
  const cookies = response.headers.getSetCookie();
  if (cookies.length) headers["set-cookie"] = cookies;
  const body = withBody ? Buffer.from(await response.arrayBuffer()) : undefined;
  to.writeHead(response.status, headers);
  to.end(body);
}

async function dispatch(routes: Route[], load: ReturnType<typeof moduleLoader>, request: IncomingMessage): Promise<Response> {
  const url = new URL(request.url ?? "/", `http://${request.headers.host ?? "localhost"}`);
  const match = matchRoute(routes, url.pathname);
  if (!match) throw new ApiError("NOT_FOUND", `No function serves ${url.pathname}`);
  const module = await load(match.route);
  const method = request.method ?? "GET";
  const handler = methodHandler(module, method) ?? (method === "HEAD" ? methodHandler(module, "GET") : undefined);
  if (!handler) {
    throw new ApiError("METHOD_NOT_ALLOWED", `${method} is not allowed here`, {
      allow: allowedMethods(module).join(", "),
    });
  }
  // Vercel appends each dynamic segment to the query string, after the caller's parameters.
  for (const [name, value] of match.params) url.searchParams.append(name, value);
  return handler(await webRequest(request, url));
}

export interface LocalServerOptions {
  apiDir: string;
}

/** A server for every function in `apiDir`; call `listen` on it. */
export async function createLocalServer({ apiDir }: LocalServerOptions): Promise<Server> {
  const routes = await discoverRoutes(apiDir);
  const load = moduleLoader();
  const server = createServer((request, response) => {
    dispatch(routes, load, request)
      .catch((error: unknown) => errorResponse(error, randomUUID()))
      .then((webResponse) => send(webResponse, response, request.method !== "HEAD"))
      .catch(() => response.destroy());
  });
  server.on("clientError", (error: NodeJS.ErrnoException, socket) => answerUnparsable(error, socket));
  return server;
}

/** Requests node:http cannot parse (a URL or headers over 16 KB, bad framing) still get the JSON error shape. */
function answerUnparsable(error: NodeJS.ErrnoException, socket: Duplex): void {
  if (!socket.writable) return;
  const tooLarge = error.code === "HPE_HEADER_OVERFLOW";
  const body = JSON.stringify({
    error: {
      code: "BAD_REQUEST",
      message: tooLarge ? "URL and headers must be at most 16 KB" : "the request could not be parsed",
      request_id: randomUUID(),
    },
  });
  socket.end(
    `HTTP/1.1 ${tooLarge ? "431 Request Header Fields Too Large" : "400 Bad Request"}\r\n` +
      `content-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}
