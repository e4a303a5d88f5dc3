/**
 * What Vercel does besides the functions, done the same way locally: files of `public/`
 * (vercel.json's outputDirectory) served as they are, vercel.json's `rewrites` (a path to a
 * file) and its `headers` (by path pattern, on every answer, the functions' too). Patterns
 * take Vercel's simple form: a literal path, with `(.*)` standing for any rest; each is
 * compiled once, when vercel.json is read.
 *
 * Only canonical paths are answered (isCanonicalPath): a path that names the same file by
 * another spelling (`/%64ashboard/`, `//dashboard/`) would dodge the header rules matched on
 * its spelling, so it is refused instead.
 */
import { readFile, stat } from "node:fs/promises";
import path from "node:path";

interface VercelJson {
  rewrites?: Array<{ source: string; destination: string }>;
  headers?: Array<{ source: string; headers: Array<{ key: string; value: string }> }>;
}

/** vercel.json's rewrites and header rules, their patterns compiled. */
export interface VercelRouting {
  rewrites: Array<{ pattern: RegExp; destination: string }>;
  headers: Array<{ pattern: RegExp; headers: Array<[string, string]> }>;
}

function patternOf(source: string): RegExp {
  const parts = source.split("(.*)").map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
  return new RegExp(`^${parts.join(".*")}$`);
}

/** The routing of vercel.json's text. */
export function routingOf(text: string): VercelRouting {
  const parsed = JSON.parse(text) as VercelJson;
  return {
    rewrites: (parsed.rewrites ?? []).map(({ source, destination }) => ({ pattern: patternOf(source), destination })),
    headers: (parsed.headers ?? []).map(({ source, headers }) => ({
      pattern: patternOf(source),
      headers: headers.map(({ key, value }): [string, string] => [key.toLowerCase(), value]),
    })),
  };
}

/** The routing of vercel.json at `file`. */
export async function vercelRouting(file: string): Promise<VercelRouting> {
  return routingOf(await readFile(file, "utf8"));
}

/** The headers vercel.json sets on `pathname`, later rules over earlier ones. */
export function headersFor(routing: VercelRouting, pathname: string): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const rule of routing.headers) {
    if (!rule.pattern.test(pathname)) continue;
    for (const [key, value] of rule.headers) headers[key] = value;
  }
  return headers;
}

/** The path a rewrite sends `pathname` to, or `pathname` itself. */
export function rewritten(routing: VercelRouting, pathname: string): string {
  return routing.rewrites.find((rule) => rule.pattern.test(pathname))?.destination ?? pathname;
}

/** An escape of a character that needs none: a letter, a digit or `-._~` (RFC 3986's unreserved), or `/`. */
const NEEDLESS_ESCAPE = /%(?:[46][1-9a-f]|[57][0-9a]|3[0-9]|2[def]|5f|7e)/i;

/**
 * Whether `pathname` (as the URL parser left it: dot segments resolved) is the one spelling of
 * its path: no empty segment (`//`), no backslash, no escape of a character that needs none.
 */
export function isCanonicalPath(pathname: string): boolean {
  return !pathname.includes("//") && !pathname.includes("\\") && !NEEDLESS_ESCAPE.test(pathname);
}

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".png": "image/png",
  ".svg": "image/svg+xml",
  ".ico": "image/x-icon",
  ".txt": "text/plain; charset=utf-8",
  ".map": "application/json",
};

/**
 * The file of `publicDir` at `pathname` as a Response, or undefined when there is none: no
 * path outside the folder, no dotfile, no folder listing, no escaped name.
 */
export async function staticFile(publicDir: string, pathname: string, method: string): Promise<Response | undefined> {
  if (method !== "GET" && method !== "HEAD") return undefined;
  // The public folder's names need no escapes: a path with one names no file of it.
  if (pathname.includes("%") || pathname.includes("\0") || pathname.split("/").some((part) => part.startsWith("."))) return undefined;
  const file = path.resolve(publicDir, `.${path.posix.normalize(pathname)}`);
  if (!file.startsWith(path.resolve(publicDir) + path.sep)) return undefined;
  const info = await stat(file).catch(() => undefined);
  if (!info?.isFile()) return undefined;
  const body = method === "HEAD" ? null : await readFile(file);
  return new Response(body, {
    headers: {
      "content-type": TYPES[path.extname(file)] ?? "application/octet-stream",
      "content-length": String(info.size),
    },
  });
}
