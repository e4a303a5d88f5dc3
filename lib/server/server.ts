/**
 * Vercel's router, done by Node for `npm start` and the backup worker: a node:http server that
 * hands each request, as a Web `Request`, to the matching `api/` handler and writes its
 * `Response` back. @hono/node-server does the Request/Response conversion: it builds them
 * lazily and writes string bodies without streams, so the server costs little next to the handlers.
 */
import type { AddressInfo } from "node:net";
import { createServer, type IncomingMessage, type Server } from "node:http";
import { randomUUID } from "node:crypto";
import type { Duplex } from "node:stream";
import { getRequestListener, RequestError } from "@hono/node-server";
import { PEER_ADDRESS_HEADER } from "../http/admin-token.js";
import { ApiError, ERROR_STATUS, errorResponse } from "../http/errors.js";
import { allowedMethods, discoverRoutes, methodHandler, moduleLoader, routeMatcher, type RouteMatch } from "./router.js";
import { headersFor, isCanonicalPath, rewritten, staticFile, vercelRouting, type VercelRouting } from "./static.js";

/** Vercel refuses request bodies above 4.5 MB; so does the local server. */
export const MAX_BODY_BYTES = 4.5 * 1024 * 1024;

function tooLarge(): ApiError {
  return new ApiError("PAYLOAD_TOO_LARGE", "The request body is larger than 4.5 MB");
}

/** The body, read up to the limit: a declared or streamed size beyond it is refused unread. */
async function boundedBody(request: Request): Promise<Uint8Array | undefined> {
  if (Number(request.headers.get("content-length") ?? 0) > MAX_BODY_BYTES) throw tooLarge();
  if (!request.body) return undefined;
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of request.body as AsyncIterable<Uint8Array>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw tooLarge();
    chunks.push(chunk);
  }
  return size ? Buffer.concat(chunks, size) : undefined;
}

/**
 * The request's body as the handler may read it: a declared length over the limit is refused
 * unread; a body of undeclared length (chunked) is read here, up to the limit.
 */
async function boundedRequest(request: Request): Promise<Request> {
  const declared = request.headers.get("content-length");
  if (declared !== null) {
    if (Number(declared) > MAX_BODY_BYTES) throw tooLarge();
    return request;
  }
  return new Request(request.url, { method: request.method, headers: request.headers, body: await boundedBody(request) });
}

async function dispatch(match: RouteMatch | undefined, load: ReturnType<typeof moduleLoader>, request: Request): Promise<Response> {
  if (!match) throw new ApiError("NOT_FOUND", `No function serves ${new URL(request.url).pathname}`);
  const loaded = load(match.route);
  const module = loaded instanceof Promise ? await loaded : loaded;
  const handler = methodHandler(module, request.method) ?? (request.method === "HEAD" ? methodHandler(module, "GET") : undefined);
  if (!handler) {
    throw new ApiError("METHOD_NOT_ALLOWED", `${request.method} is not allowed here`, {
      allow: allowedMethods(module).join(", "),
    });
  }
  const hasBody = request.method !== "GET" && request.method !== "HEAD";
  return handler(hasBody ? await boundedRequest(request) : request);
}

/** The route of a raw request URL; its dynamic segments are appended to the URL's query, as Vercel does. */
function routeIncoming(routeOf: (pathname: string) => RouteMatch | undefined, incoming: IncomingMessage): RouteMatch | undefined {
  const rawUrl = incoming.url ?? "/";
  const queryAt = rawUrl.indexOf("?");
  const match = routeOf(queryAt === -1 ? rawUrl : rawUrl.slice(0, queryAt));
  if (match?.params.length) {
    const params = new URLSearchParams(match.params).toString();
    incoming.url = `${rawUrl}${queryAt === -1 ? "?" : "&"}${params}`;
  }
  return match;
}

/** Requests node:http cannot parse (a URL or headers over 16 KB, bad framing) still get the JSON error shape. */
function answerUnparsable(error: NodeJS.ErrnoException, socket: Duplex): void {
  if (!socket.writable) return;
  const overflow = error.code === "HPE_HEADER_OVERFLOW";
  const code = overflow ? "HEADERS_TOO_LARGE" : "BAD_REQUEST";
  const body = JSON.stringify({
    error: {
      code,
      message: overflow ? "URL and headers must be at most 16 KB" : "the request could not be parsed",
      request_id: randomUUID(),
    },
  });
  socket.end(
    `HTTP/1.1 ${ERROR_STATUS[code]} ${overflow ? "Request Header Fields Too Large" : "Bad Request"}\r\n` +
      `content-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}

export interface LocalServerOptions {
  apiDir: string;
  /** Static files (vercel.json's outputDirectory), served outside /api. */
  publicDir?: string;
  /** vercel.json, whose rewrites and headers apply as on Vercel. */
  vercelConfig?: string;
}

/**
 * The raw headers with the TCP peer's address under PEER_ADDRESS_HEADER, any the client sent
 * under that name dropped: the address a limiter may trust, where no proxy vouches for one.
 * node:http has parsed `headers` from the raw ones already, so both are set.
 */
function withPeerAddress(rawHeaders: string[], address: string): string[] {
  const kept: string[] = [];
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (rawHeaders[i]?.toLowerCase() !== PEER_ADDRESS_HEADER) kept.push(rawHeaders[i] ?? "", rawHeaders[i + 1] ?? "");
  }
  return [...kept, PEER_ADDRESS_HEADER, address];
}

/** A request whose URL or Host the adapter cannot turn into a Request (a backslash in the path, a bad Host). */
function unreadableRequest(error: RequestError): ApiError {
  return new ApiError("BAD_REQUEST", `the request cannot be read: ${error.message.toLowerCase()}`);
}

function notCanonical(): ApiError {
  return new ApiError("BAD_REQUEST", "the path must be written plainly: no empty segment (//), no backslash, no escaped letter, digit or slash");
}

/** A file of the public folder for a path outside /api (after vercel.json's rewrites), else a 404. */
async function servedFile(publicDir: string | undefined, routing: VercelRouting, request: Request, pathname: string): Promise<Response> {
  const file = publicDir ? await staticFile(publicDir, rewritten(routing, pathname), request.method) : undefined;
  if (!file) throw new ApiError("NOT_FOUND", `Nothing is served at ${pathname}`);
  return file;
}

/** The answer with the headers vercel.json sets on its path (a copy only when there are some). */
function withRoutingHeaders(routing: VercelRouting, pathname: string, response: Response): Response {
  const headers = Object.entries(headersFor(routing, pathname));
  if (headers.length === 0) return response;
  const answered = new Response(response.body, response);
  for (const [key, value] of headers) answered.headers.set(key, value);
  return answered;
}

/** A server for every function in `apiDir` (and the files of `publicDir`); call `listen` on it. */
export async function createLocalServer({ apiDir, publicDir, vercelConfig }: LocalServerOptions): Promise<Server> {
  const routeOf = routeMatcher(await discoverRoutes(apiDir));
  const routing: VercelRouting = vercelConfig ? await vercelRouting(vercelConfig) : { rewrites: [], headers: [] };
  const load = moduleLoader();
  const matches = new WeakMap<object, RouteMatch | undefined>();
  const answer = async (request: Request, pathname: string, match: RouteMatch | undefined): Promise<Response> => {
    if (!isCanonicalPath(pathname)) throw notCanonical();
    return pathname.startsWith("/api/") ? dispatch(match, load, request) : servedFile(publicDir, routing, request, pathname);
  };
  const listener = getRequestListener(
    async (request, { incoming }) => {
      // The path as the URL standard reads it (dot segments resolved), once per request.
      const { pathname } = new URL(request.url);
      const response = await answer(request, pathname, matches.get(incoming)).catch((error: unknown) => errorResponse(error, randomUUID()));
      return withRoutingHeaders(routing, pathname, response);
    },
    { errorHandler: (error) => errorResponse(error instanceof RequestError ? unreadableRequest(error) : error, randomUUID()) },
  );
  const server = createServer((incoming, outgoing) => {
    const peer = incoming.socket.remoteAddress ?? "unknown";
    incoming.rawHeaders = withPeerAddress(incoming.rawHeaders, peer);
    incoming.headers[PEER_ADDRESS_HEADER] = peer;
    matches.set(incoming, routeIncoming(routeOf, incoming));
    void listener(incoming, outgoing);
  });
  server.on("clientError", (error: NodeJS.ErrnoException, socket) => answerUnparsable(error, socket));
  return server;
}

/** Listens on `port` (of `host`, else every interface); a port in use is one clear error. Resolves with the address taken. */
export function listening(server: Server, port: number, host?: string): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    server.once("error", (error: NodeJS.ErrnoException) =>
      reject(error.code === "EADDRINUSE" ? new Error(`port ${port} is in use; set PORT to a free one`) : error),
    );
    server.listen(port, host, () => resolve(server.address() as AddressInfo));
  });
}
