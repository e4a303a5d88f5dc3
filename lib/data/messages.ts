/**
 * A page of a conversation's messages, newest first by (created_at, id), read from the
 * composite index (conversation_id, created_at desc, id desc) without a sort. The tenancy
 * check and the page come back in one round trip.
 */
import type postgres from "postgres";
import type { Sql } from "../db/pool.js";
import { keysetAfter, type PageWindow } from "./keyset.js";
import { callerOrganizations } from "./members.js";

export interface MessageRow {
  id: string;
  conversation_id: string;
  role: string;
  content: string;
  metadata: Record<string, unknown>;
  created_at: string;
}

export interface MessagesPageRow {
  found: boolean;
  messages: MessageRow[];
  total: string | null;
}

export interface MessagesPageOptions {
  window: PageWindow;
  countExact?: boolean;
}

/** The page query alone: what EXPLAIN is asked about. */
export function messagesPageQuery(sql: Sql, conversationId: string, { window }: MessagesPageOptions): postgres.PendingQuery<postgres.Row[]> {
  return sql`
    select
      m.id as id,
      m.conversation_id as conversation_id,
      m.role as role,
      m.content as content,
      m.metadata as metadata,
      m.created_at as created_at_exact
    from conversation_messages m
    where m.conversation_id = ${conversationId}
      ${keysetAfter(sql, "m", window.after)}
    order by m.created_at desc, m.id desc
    limit ${window.limit}`;
}

/** The window's messages of a conversation of one of the user's organizations; `found` false when there is none. */
export function messagesPage(sql: Sql, userId: string, conversationId: string, options: MessagesPageOptions): postgres.PendingQuery<MessagesPageRow[]> {
  return sql<MessagesPageRow[]>`
    with conversation as (
      select c.id
      from conversations c
      where c.id = ${conversationId}
        and c.organization_id in ${callerOrganizations(sql, userId)}
    ),
    page as (${messagesPageQuery(sql, conversationId, options)})
    select
      exists (select 1 from conversation) as found,
      coalesce((
        select json_agg(json_build_object(
            'id', p.id,
            'conversation_id', p.conversation_id,
            'role', p.role,
            'content', p.content,
            'metadata', p.metadata,
            'created_at', api_timestamp(p.created_at_exact))
          order by p.created_at_exact desc, p.id desc)
        from page p
        where exists (select 1 from conversation)), '[]'::json) as messages,
      ${
        options.countExact ? sql`(select count(*) from conversation_messages where conversation_id = (select id from conversation))` : sql`null::bigint`
      } as total`;
}
