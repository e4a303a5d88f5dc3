/** A conversation's messages as its organization's members see them. */
import type { Caller } from "../lib/auth/verify.js";
import type { PageWindow } from "../lib/data/keyset.js";
import { messagesPage, type MessageRow } from "../lib/data/messages.js";
import { bounded } from "../lib/db/deadline.js";
import { requestDb } from "../lib/db/pool.js";

export interface MessagesOptions {
  window: PageWindow;
  countExact?: boolean;
}

export interface MessagesResult {
  /** The window's rows. */
  rows: MessageRow[];
  total: number | null;
}

/** Messages newest first, or undefined when the conversation is not one of the caller's organizations'. */
export async function messagesForCaller(
  caller: Caller,
  conversationId: string,
  { window, countExact = false }: MessagesOptions,
): Promise<MessagesResult | undefined> {
  const [page] = await bounded(messagesPage(requestDb(), caller.userId, conversationId, { window, countExact }));
  if (!page?.found) return undefined;
  return { rows: page.messages, total: page.total === null ? null : Number(page.total) };
}
