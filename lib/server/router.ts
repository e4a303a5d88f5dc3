/**
 * Serves the `api/` folder the way Vercel routes it: `api/health.ts` at `/api/health`,
 * `api/agents/[id].ts` at `/api/agents/:id` with the segment as the query parameter `id`,
 * `index.ts` at its folder, static routes before dynamic ones, files starting with `_`
 * not served. Handlers are Web-standard: a named export per HTTP method.
 */
import { readdir } from "node:fs/promises";
import path from "node:path";
import { pathToFileURL } from "node:url";

export interface Route {
  /** The route as Vercel writes it, e.g. `/api/agents/[id]`. */
  pattern: string;
  file: string;
  segments: Segment[];
}

type Segment = { kind: "static"; value: string } | { kind: "param"; name: string } | { kind: "catchAll"; name: string };

const SOURCE = /\.(ts|js|mjs)$/;

function segmentOf(part: string): Segment {
  const catchAll = /^\[\.\.\.(\w+)\]$/.exec(part);
  if (catchAll?.[1]) return { kind: "catchAll", name: catchAll[1] };
  const param = /^\[(\w+)\]$/.exec(part);
  if (param?.[1]) return { kind: "param", name: param[1] };
  return { kind: "static", value: part };
}

async function sourceFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const nested = await Promise.all(
    entries
      .filter((entry) => !entry.name.startsWith("_") && !entry.name.startsWith("."))
      .map(async (entry) => {
        const full = path.join(dir, entry.name);
        if (entry.isDirectory()) return sourceFiles(full);
        return SOURCE.test(entry.name) && !entry.name.endsWith(".d.ts") ? [full] : [];
      }),
  );
  return nested.flat();
}

/** Static segments outrank dynamic ones, dynamic outrank catch-alls, position by position. */
function rank(route: Route): string {
  return route.segments.map((s) => (s.kind === "static" ? "0" : s.kind === "param" ? "1" : "2")).join("");
}

/** Every function of `apiDir`, in matching order. */
export async function discoverRoutes(apiDir: string): Promise<Route[]> {
  const files = await sourceFiles(apiDir);
  const routes = files.map((file) => {
    const parts = path.relative(apiDir, file).replace(SOURCE, "").split(path.sep);
    if (parts.at(-1) === "index") parts.pop();
    const urlParts = ["api", ...parts];
    return { pattern: `/${urlParts.join("/")}`, file, segments: urlParts.map(segmentOf) };
  });
  return routes.sort((a, b) => rank(a).localeCompare(rank(b)) || a.pattern.localeCompare(b.pattern));
}

export interface RouteMatch {
  route: Route;
  params: Array<[string, string]>;
}

function matchSegments(segments: Segment[], parts: string[]): Array<[string, string]> | undefined {
  const params: Array<[string, string]> = [];
  for (const [index, segment] of segments.entries()) {
    const part = parts[index];
    if (segment.kind === "catchAll") {
      const rest = parts.slice(index);
      if (rest.length === 0) return undefined;
      params.push([segment.name, rest.join("/")]);
      return params;
    }
    if (part === undefined || part === "") return undefined;
    if (segment.kind === "static" && segment.value !== part) return undefined;
    if (segment.kind === "param") params.push([segment.name, part]);
  }
  return parts.length === segments.length ? params : undefined;
}

/** The route serving `pathname`, with its dynamic segments decoded, or undefined. */
export function matchRoute(routes: Route[], pathname: string): RouteMatch | undefined {
  const parts = pathname.replace(/\/+$/, "").split("/").slice(1);
  let decoded: string[];
  try {
    decoded = parts.map((part) => decodeURIComponent(part));
  } catch {
    return undefined;
  }
  for (const route of routes) {
    const params = matchSegments(route.segments, decoded);
    if (params) return { route, params };
  }
  return undefined;
}

/** Paths remembered by `routeMatcher`, each of at most REMEMBERED_PATH_LENGTH characters; past this many it starts afresh. */
const REMEMBERED_PATHS = 1000;
const REMEMBERED_PATH_LENGTH = 256;

/**
 * matchRoute over `routes` with the answers of recent paths remembered (a bounded map): a
 * server sees the same paths again and again, and splitting and decoding each costs every request.
 */
export function routeMatcher(routes: Route[]): (pathname: string) => RouteMatch | undefined {
  const remembered = new Map<string, RouteMatch | undefined>();
  return (pathname) => {
    if (remembered.has(pathname)) return remembered.get(pathname);
    const match = matchRoute(routes, pathname);
    if (pathname.length > REMEMBERED_PATH_LENGTH) return match;
    if (remembered.size >= REMEMBERED_PATHS) remembered.clear();
    remembered.set(pathname, match);
    return match;
  };
}

export type MethodHandler = (request: Request) => Response | Promise<Response>;
export type RouteModule = Partial<Record<string, unknown>>;

const HTTP_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] as const;

/** The route's module, loaded once; handed over without a promise once it is loaded. */
export function moduleLoader(): (route: Route) => RouteModule | Promise<RouteModule> {
  const loading = new Map<string, Promise<RouteModule>>();
  const loaded = new Map<string, RouteModule>();
  return (route) => {
    const ready = loaded.get(route.file);
    if (ready) return ready;
    let module = loading.get(route.file);
    if (!module) {
      module = (import(pathToFileURL(route.file).href) as Promise<RouteModule>).then((value) => {
        loaded.set(route.file, value);
        return value;
      });
      loading.set(route.file, module);
    }
    return module;
  };
}

export function methodHandler(module: RouteModule, method: string): MethodHandler | undefined {
  const handler = module[method];
  return typeof handler === "function" ? (handler as MethodHandler) : undefined;
}

export function allowedMethods(module: RouteModule): string[] {
  return HTTP_METHODS.filter((method) => methodHandler(module, method));
}
