/**
 * Request input, validated before anything else runs: each problem is a 400 (or 413/415)
 * whose message names the field.
 */
import type { LosslessNumber } from "lossless-json";
import * as v from "valibot";
import { UUID_PATTERN } from "../uuid.js";
import { ApiError } from "./errors.js";

/** Any schema of ours: what it reads is unknown until it has checked it. */
export type Schema = v.GenericSchema<unknown, unknown>;

const uuid = v.pipe(v.string("must be a UUID"), v.regex(UUID_PATTERN, "must be a UUID"));

/** A signed 64-bit integer in decimal, as pg_stat_statements' queryid. */
export const int64Text = v.pipe(
  v.string("must be a whole number"),
  v.regex(/^-?(0|[1-9][0-9]{0,18})$/, "must be a whole number"),
  // Checks go on after a failed one: only a number is measured.
  v.check((value) => !/^-?\d+$/.test(value) || (BigInt(value) >= -(2n ** 63n) && BigInt(value) < 2n ** 63n), "must fit in 64 bits"),
);

/** A route's dynamic segment (Vercel appends it to the query, after the caller's own parameters), checked by `schema`. */
export function routeParam<T extends Schema>(request: Request, name: string, schema: T): v.InferOutput<T> {
  const queryAt = request.url.indexOf("?");
  const query = new URLSearchParams(queryAt === -1 ? "" : request.url.slice(queryAt + 1));
  const parsed = v.safeParse(schema, query.getAll(name).at(-1) ?? "");
  if (!parsed.success) throw new ApiError("BAD_REQUEST", `${name} ${parsed.issues[0]?.message ?? "is invalid"}`);
  return parsed.output;
}

export function routeUuid(request: Request, name = "id"): string {
  return routeParam(request, name, uuid).toLowerCase();
}

/** The first problem of a failed parse, named by its field ("config.limit must be ..."). */
function firstProblem(issues: readonly v.BaseIssue<unknown>[]): string {
  const issue = issues[0];
  if (!issue) return "request is invalid";
  const field = v.getDotPath(issue) ?? "";
  // A strict object's key it does not know: valibot expects `never` there.
  if (issue.type === "strict_object" && issue.expected === "never") return `unknown field: ${field}`;
  if (issue.kind === "schema" && issue.type.endsWith("object")) {
    // The body itself is not an object, or a key the object needs is left out.
    if (!field) return "body must be a JSON object";
    if (issue.received === "undefined") return `${field} is required`;
  }
  return field ? `${field} ${issue.message}` : issue.message;
}

/** The query parameters named by `schema`, each given at most once. */
export function queryOf<T extends Schema>(request: Request, schema: T, routeParams: string[] = []): v.InferOutput<T> {
  const params = new URL(request.url).searchParams;
  const values: Record<string, string> = {};
  for (const key of new Set(params.keys())) {
    if (routeParams.includes(key)) continue;
    const all = params.getAll(key);
    if (all.length > 1) throw new ApiError("BAD_REQUEST", `${key} must be given once`);
    values[key] = all[0] ?? "";
  }
  const parsed = v.safeParse(schema, values);
  if (!parsed.success) throw new ApiError("BAD_REQUEST", firstProblem(parsed.issues));
  return parsed.output;
}

/** A whole-number query parameter. */
export const queryInt = (min: number, max: number) =>
  v.pipe(
    v.string(`must be a whole number from ${min} to ${max}`),
    v.regex(/^\d{1,9}$/, `must be a whole number from ${min} to ${max}`),
    v.transform(Number),
    v.check((n) => n >= min && n <= max, `must be a whole number from ${min} to ${max}`),
  );

/** The body's text, at most `maxBytes`: UTF-8, or a 400 (a byte sequence that is not one is refused, never replaced). */
export async function bodyText(request: Request, maxBytes: number): Promise<string> {
  const declared = Number(request.headers.get("content-length") ?? 0);
  if (declared > maxBytes) throw new ApiError("PAYLOAD_TOO_LARGE", `body must be at most ${maxBytes} bytes`);
  const bytes = await request.arrayBuffer();
  if (bytes.byteLength > maxBytes) throw new ApiError("PAYLOAD_TOO_LARGE", `body must be at most ${maxBytes} bytes`);
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new ApiError("BAD_REQUEST", "body is not valid UTF-8");
  }
}

/** `application/json`, with no charset or UTF-8's: JSON is UTF-8 (RFC 8259), and a body declared otherwise would be misread. */
function requireJsonType(request: Request): void {
  const [type = "", ...parameters] = (request.headers.get("content-type") ?? "").split(";").map((part) => part.trim());
  if (type.toLowerCase() !== "application/json") throw new ApiError("UNSUPPORTED_MEDIA_TYPE", "body must be application/json");
  const charset = parameters
    .find((p) => /^charset=/i.test(p))
    ?.slice("charset=".length)
    .replace(/^"|"$/g, "");
  if (charset !== undefined && charset.toLowerCase() !== "utf-8") {
    throw new ApiError("UNSUPPORTED_MEDIA_TYPE", `body must be UTF-8 JSON: charset=${charset.slice(0, 40)} is not accepted`);
  }
}

/** The JSON body, at most `maxBytes`, matching `schema`. */
export async function jsonBody<T extends Schema>(request: Request, schema: T, maxBytes: number): Promise<v.InferOutput<T>> {
  requireJsonType(request);
  return parsedJson(await bodyText(request, maxBytes), schema);
}

/** The deepest a request's JSON may nest: deeper, it is refused before it is parsed. */
const MAX_JSON_DEPTH = 64;

/** How deep a JSON text nests, counted without recursion (brackets inside strings do not count). */
function nestingDepth(text: string): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) deepest = Math.max(deepest, ++depth);
    else if (c === 0x5d || c === 0x7d) depth--;
  }
  return deepest;
}

/**
 * The parsed value with every number a JavaScript number, or a 400 naming the first number a
 * double cannot carry exactly (9007199254740993, 1e309, 0.10000000000000000001): it would be
 * stored as another number without a word.
 */
function withExactNumbers(root: unknown, { isLosslessNumber, isSafeNumber }: LosslessNumbers): unknown {
  const result: { value: unknown } = { value: root };
  const pending: Array<{ holder: Record<string, unknown> | unknown[]; key: string | number; path: string }> = [{ holder: result, key: "value", path: "" }];
  for (let next = pending.pop(); next; next = pending.pop()) {
    const { holder, key, path } = next;
    const value = (holder as Record<string | number, unknown>)[key];
    if (isLosslessNumber(value)) {
      if (!isSafeNumber(value.value))
        throw new ApiError("BAD_REQUEST", `${path || "body"} must be a number that can be stored exactly (${value.value.slice(0, 40)} cannot)`);
      (holder as Record<string | number, unknown>)[key] = Number(value.value);
    } else if (Array.isArray(value)) {
      value.forEach((_, index) => pending.push({ holder: value, key: index, path: path ? `${path}.${index}` : String(index) }));
    } else if (value !== null && typeof value === "object") {
      for (const name of Object.keys(value)) pending.push({ holder: value as Record<string, unknown>, key: name, path: path ? `${path}.${name}` : name });
    }
  }
  return result.value;
}

interface LosslessNumbers {
  isLosslessNumber: (value: unknown) => value is LosslessNumber;
  isSafeNumber: (value: string) => boolean;
}

/**
 * A body already read (a signed one, say) as JSON of the schema; 400 naming the first problem.
 * The JSON parser is loaded by the first body: a path that reads none starts without it.
 */
export async function parsedJson<T extends Schema>(text: string, schema: T): Promise<v.InferOutput<T>> {
  if (nestingDepth(text) > MAX_JSON_DEPTH) throw new ApiError("BAD_REQUEST", `body must be nested at most ${MAX_JSON_DEPTH} levels deep`);
  const lossless = await import("lossless-json");
  let value: unknown;
  try {
    value = lossless.parse(text);
  } catch (error) {
    const duplicate = /^Duplicate key '([^']{0,60})'/.exec(error instanceof Error ? error.message : "")?.[1];
    throw new ApiError(
      "BAD_REQUEST",
      duplicate === undefined ? "body is not valid JSON" : `body is not valid JSON: the key '${duplicate}' appears twice in one object`,
    );
  }
  // valibot takes an array for an object (its keys 0, 1, ...): a body must be an object proper.
  if (schema.type.endsWith("object") && (value === null || typeof value !== "object" || Array.isArray(value))) {
    throw new ApiError("BAD_REQUEST", "body must be a JSON object");
  }
  const parsed = v.safeParse(schema, withExactNumbers(value, lossless));
  if (!parsed.success) throw new ApiError("BAD_REQUEST", firstProblem(parsed.issues));
  return parsed.output;
}
