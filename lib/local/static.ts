/**
 * What Vercel does besides the functions, done the same way locally: files of `public/`
 * (vercel.json's outputDirectory) served as they are, vercel.json's `rewrites` (a path to a
 * file) and its `headers` (by path pattern, on every answer, the functions' too). Patterns
 * take Vercel's simple form: a literal path, with `(.*)` standing for any rest.
 */
import { readFile, stat } from "node:fs/promises";
import path from "node:path";

export interface VercelRouting {
  rewrites: Array<{ source: string; destination: string }>;
  headers: Array<{ source: string; headers: Array<{ key: string; value: string }> }>;
}

/** The routing of vercel.json at `file`. */
export async function vercelRouting(file: string): Promise<VercelRouting> {
  const parsed = JSON.parse(await readFile(file, "utf8")) as Partial<VercelRouting>;
  return { rewrites: parsed.rewrites ?? [], headers: parsed.headers ?? [] };
}

function patternOf(source: string): RegExp {
  const parts = source.split("(.*)").map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
  return new RegExp(`^${parts.join(".*")}$`);
}

/** The headers vercel.json sets on `pathname`, later rules over earlier ones. */
export function headersFor(routing: VercelRouting, pathname: string): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const rule of routing.headers) {
    if (!patternOf(rule.source).test(pathname)) continue;
    for (const { key, value } of rule.headers) headers[key.toLowerCase()] = value;
  }
  return headers;
}

/** The path a rewrite sends `pathname` to, or `pathname` itself. */
export function rewritten(routing: VercelRouting, pathname: string): string {
  return routing.rewrites.find((rule) => patternOf(rule.source).test(pathname))?.destination ?? pathname;
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
 * path outside the folder, no dotfile, no folder listing.
 */
export async function staticFile(publicDir: string, pathname: string, method: string): Promise<Response | undefined> {
  if (method !== "GET" && method !== "HEAD") return undefined;
  let decoded: string;
  try {
    decoded = decodeURIComponent(pathname);
  } catch {
    return undefined;
  }
  if (decoded.includes("\0") || decoded.split("/").some((part) => part.startsWith("."))) return undefined;
  const file = path.resolve(publicDir, `.${path.posix.normalize(decoded)}`);
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
