/** A conversation's messages as its organization's members see them. */
import type { Caller } from "../lib/auth/verify.js";
import { messagesPage, type MessagePosition, type MessageRow } from "../lib/data/messages.js";
import { bounded } from "../lib/db/deadline.js";
import { requestDb } from "../lib/db/pool.js";

export interface MessagesOptions {
  limit: number;
  after?: MessagePosition;
  countExact?: boolean;
}

export interface MessagesResult {
  /** `limit + 1` rows at most: the last one only says there are more. */
  rows: MessageRow[];
  total: number | null;
}

/** Messages newest first, or undefined when the conversation is not one of the caller's organizations'. */
export async function messagesForCaller(caller: Caller, conversationId: string, { limit, after, countExact = false }: MessagesOptions): Promise<MessagesResult | undefined> {
  const [page] = await bounded(messagesPage(requestDb(), caller.userId, conversationId, { limit: limit + 1, after, countExact }));
  if (!page?.found) return undefined;
  return { rows: page.messages, total: page.total === null ? null : Number(page.total) };
}
