/**
 * Paginated listings, in one place: a page's window (its size, plus the one extra row that
 * says there is more, after the position its cursor names) and the page made of what it read.
 * Cursors are opaque: the position of the last row sent, bound to one listing (its scope) and
 * signed, so a forged, truncated or borrowed cursor is refused, not obeyed.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import { isCanonicalBase64url } from "../base64url.js";
import { config, ConfigError } from "../config.js";
import type { PageWindow, Position } from "../data/keyset.js";
import { UUID_PATTERN } from "../uuid.js";
import { ApiError } from "./errors.js";

const MAX_CURSOR_LENGTH = 256;
const SIGNATURE_BYTES = 16;
const API_TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

/** The listings with cursors; a scope is the listing and what narrows it (the caller, a filter, a conversation). */
export type Listing = "agents" | "messages";

export function cursorScope(listing: Listing, ...narrowedBy: string[]): string {
  return [listing, ...narrowedBy].join(":");
}

function secret(): string {
  const key = config().cursorSecret;
  if (!key) throw new ConfigError("Invalid configuration: CURSOR_SECRET or SUPABASE_JWT_SECRET must be set to sign cursors");
  return key;
}

function signature(scope: string, payload: string): Buffer {
  return createHmac("sha256", secret()).update(`${scope}\n${payload}`).digest().subarray(0, SIGNATURE_BYTES);
}

function encodeCursor(scope: string, position: Position): string {
  const payload = Buffer.from(JSON.stringify([position.createdAt, position.id])).toString("base64url");
  return `${payload}.${signature(scope, payload).toString("base64url")}`;
}

function invalid(): ApiError {
  return new ApiError("BAD_REQUEST", "cursor is invalid: pass next_cursor from the previous page unchanged");
}

/** The position a cursor of this scope names; 400 for anything this server did not issue for it. */
function decodeCursor(scope: string, cursor: string): Position {
  if (cursor.length > MAX_CURSOR_LENGTH) throw invalid();
  const [payload, sent, extra] = cursor.split(".");
  if (!payload || !sent || extra !== undefined || !isCanonicalBase64url(payload) || !isCanonicalBase64url(sent)) throw invalid();
  const expected = signature(scope, payload);
  const given = Buffer.from(sent, "base64url");
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw invalid();
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(payload, "base64url").toString("utf8"));
  } catch {
    throw invalid();
  }
  if (!Array.isArray(decoded) || decoded.length !== 2) throw invalid();
  const [createdAt, id] = decoded as unknown[];
  if (typeof createdAt !== "string" || !API_TIMESTAMP.test(createdAt) || typeof id !== "string" || !UUID_PATTERN.test(id)) {
    throw invalid();
  }
  return { createdAt, id };
}

/** What a page of `limit` rows reads: one row more, after the cursor's position (a 400 for a bad cursor). */
export function pageWindow(scope: string, limit: number, cursor: string | undefined): PageWindow {
  return { limit: limit + 1, ...(cursor === undefined ? {} : { after: decodeCursor(scope, cursor) }) };
}

export interface Page<T> {
  data: T[];
  next_cursor: string | null;
  has_more: boolean;
}

/** The rows a window read, as a page: the extra row only says there is more. */
export function pageOf<T extends { id: string; created_at: string }>(rows: T[], window: PageWindow, scope: string): Page<T> {
  const shown = window.limit - 1;
  const hasMore = rows.length > shown;
  const data = hasMore ? rows.slice(0, shown) : rows;
  const last = data.at(-1);
  return {
    data,
    next_cursor: hasMore && last ? encodeCursor(scope, { createdAt: last.created_at, id: last.id }) : null,
    has_more: hasMore,
  };
}
