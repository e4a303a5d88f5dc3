/** Field rules shared by the endpoints' input schemas. */
import { z } from "zod";

/** PostgreSQL text and jsonb cannot hold U+0000: refuse it as input, not as a database error. */
const NUL = /\u0000/;

export const text = (min: number, max: number) =>
  z
    .string()
    .min(min, `must be at least ${min} characters`)
    .max(max, `must be at most ${max} characters`)
    .refine((value) => !NUL.test(value), "must not contain the NUL character");

export const AGENT_STATUSES = ["draft", "active", "paused", "archived"] as const;

export const jsonObject = z
  .record(z.string(), z.unknown(), "must be a JSON object")
  .refine((value) => !JSON.stringify(value).includes("\\u0000"), "must not contain the NUL character");
