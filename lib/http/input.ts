/**
 * Request input, validated before anything else runs: each problem is a 400 (or 413/415)
 * whose message names the field.
 */
import { z } from "zod";
import { UUID_PATTERN } from "../uuid.js";
import { ApiError } from "./errors.js";

export const uuid = z.string().regex(UUID_PATTERN, "must be a UUID");

/** A route's dynamic segment (Vercel appends it to the query, after the caller's own parameters). */
export function routeUuid(request: Request, name = "id"): string {
  const queryAt = request.url.indexOf("?");
  const query = new URLSearchParams(queryAt === -1 ? "" : request.url.slice(queryAt + 1));
  const value = query.getAll(name).at(-1) ?? "";
  const parsed = uuid.safeParse(value);
  if (!parsed.success) throw new ApiError("BAD_REQUEST", `${name} must be a UUID`);
  return parsed.data.toLowerCase();
}

function firstProblem(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return "request is invalid";
  if (issue.code === "unrecognized_keys") return `unknown field: ${issue.keys.join(", ")}`;
  const field = issue.path.join(".");
  return field ? `${field} ${issue.message}` : issue.message;
}

/** The query parameters named by `schema`, each given at most once. */
export function queryOf<T extends z.ZodType>(request: Request, schema: T, routeParams: string[] = []): z.output<T> {
  const params = new URL(request.url).searchParams;
  const values: Record<string, string> = {};
  for (const key of new Set(params.keys())) {
    if (routeParams.includes(key)) continue;
    const all = params.getAll(key);
    if (all.length > 1) throw new ApiError("BAD_REQUEST", `${key} must be given once`);
    values[key] = all[0] ?? "";
  }
  const parsed = schema.safeParse(values);
  if (!parsed.success) throw new ApiError("BAD_REQUEST", firstProblem(parsed.error));
  return parsed.data;
}

/** A whole-number query parameter. */
export const queryInt = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d{1,9}$/, `must be a whole number from ${min} to ${max}`)
    .transform(Number)
    .refine((n) => n >= min && n <= max, `must be a whole number from ${min} to ${max}`);

/** The JSON body, at most `maxBytes`, matching `schema`. */
export async function jsonBody<T extends z.ZodType>(request: Request, schema: T, maxBytes: number): Promise<z.output<T>> {
  const type = request.headers.get("content-type") ?? "";
  if (!/^application\/json\b/i.test(type)) throw new ApiError("UNSUPPORTED_MEDIA_TYPE", "body must be application/json");
  const declared = Number(request.headers.get("content-length") ?? 0);
  if (declared > maxBytes) throw new ApiError("PAYLOAD_TOO_LARGE", `body must be at most ${maxBytes} bytes`);
  const text = await request.text();
  if (Buffer.byteLength(text) > maxBytes) throw new ApiError("PAYLOAD_TOO_LARGE", `body must be at most ${maxBytes} bytes`);
  return parsedJson(text, schema);
}

/** A body already read (a signed one, say) as JSON of the schema; 400 naming the first problem. */
export function parsedJson<T extends z.ZodType>(text: string, schema: T): z.output<T> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ApiError("BAD_REQUEST", "body is not valid JSON");
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new ApiError("BAD_REQUEST", firstProblem(parsed.error));
  return parsed.data;
}
