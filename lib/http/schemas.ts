/** Field rules shared by the endpoints' input schemas. */
import * as v from "valibot";
import { WINDOWS } from "../data/history.js";

/**
 * PostgreSQL text and jsonb refuse U+0000, and jsonb refuses a lone surrogate (which text
 * would silently turn into U+FFFD): such strings are bad input, not database errors.
 */
function storable(value: string): boolean {
  return !value.includes("\u0000") && value.isWellFormed();
}

const STORABLE_MESSAGE = "must be valid Unicode without the NUL character";

export const text = (min: number, max: number) =>
  v.pipe(
    v.string("must be a string"),
    v.minLength(min, `must be at least ${min} characters`),
    v.maxLength(max, `must be at most ${max} characters`),
    v.check(storable, STORABLE_MESSAGE),
  );

export const AGENT_STATUSES = ["draft", "active", "paused", "archived"] as const;

/** Every string in a JSON value, keys included, is storable. */
function storableJson(value: unknown): boolean {
  if (typeof value === "string") return storable(value);
  if (Array.isArray(value)) return value.every(storableJson);
  if (value !== null && typeof value === "object") {
    return Object.entries(value).every(([key, item]) => storable(key) && storableJson(item));
  }
  return true;
}

const JSON_OBJECT_MESSAGE = "must be a JSON object";

export const jsonObject = v.pipe(
  v.custom<Record<string, unknown>>((value) => value !== null && typeof value === "object" && !Array.isArray(value), JSON_OBJECT_MESSAGE),
  v.check<Record<string, unknown>, string>(storableJson, STORABLE_MESSAGE),
);

/** `?window=1h|24h|7d|14d` of the dashboard's endpoints. @default 24h */
export const windowQuery = v.object({
  window: v.optional(v.picklist(WINDOWS, `must be one of ${WINDOWS.join(", ")}`), "24h"),
});
