/**
 * Realistic, reproducible demo data, generated set-based inside PostgreSQL: every id is
 * derived from a row number (`md5('agent:' || n)::uuid`) and every time from a fixed epoch,
 * so two runs with the same sizes produce identical rows.
 */
import type { Pool, Sql } from "../../lib/db/pool.js";
import { PlatformError } from "../../lib/errors.js";

export interface DemoSizes {
  organizations: number;
  usersPerOrganization: number;
  agents: number;
  conversations: number;
  messages: number;
}

export const DEFAULT_DEMO_SIZES: Readonly<DemoSizes> = {
  organizations: 3,
  usersPerOrganization: 4,
  agents: 12,
  conversations: 120,
  messages: 6000,
};

/** The user the local platform signs its demo token for (`md5('user:1')::uuid`): owner of org 1, member of org 2. */
export const DEMO_USER = { id: "bdb1dd10-5679-979c-a82b-28edd1c8ccd2", email: "demo@demo.example" } as const;

const DEMO_EPOCH = "2026-01-01T00:00:00Z";

const MESSAGE_BATCH = 100_000;

export class DemoDataError extends PlatformError {
  override name = "DemoDataError";
  constructor(message: string) {
    super("BAD_REQUEST", message);
  }
}

export interface SeedProgress {
  table: string;
  done: number;
  total: number;
}

export interface SeedOptions {
  reset?: boolean;
  /** Message ids: time-ordered (UUIDv7, as the table makes them), or random as every id was before (bench:writes' before). @default time-ordered */
  messageIds?: "time-ordered" | "random";
  onProgress?: (progress: SeedProgress) => void;
}

export async function hasData(sql: Sql): Promise<boolean> {
  const [row] = await sql<{ present: boolean }[]>`select exists (select 1 from organizations) as present`;
  return row?.present ?? false;
}

async function clear(sql: Sql): Promise<void> {
  await sql`truncate organizations, users, analytics_events, job_queue_jobs cascade`;
}

async function seedOrganizations(sql: Sql, s: DemoSizes): Promise<void> {
  await sql`
    insert into organizations (id, name, slug, created_at)
    select
      md5('org:' || n)::uuid,
      (array['Acme Support', 'Globex Sales', 'Initech Helpdesk', 'Umbrella Care', 'Hooli Success'])[1 + (n - 1) % 5]
        || case when n > 5 then ' ' || n else '' end,
      'demo-org-' || n,
      ${DEMO_EPOCH}::timestamptz + n * interval '1 hour'
    from generate_series(1, ${s.organizations}) as n`;
  await sql`
    insert into users (id, email, full_name, created_at)
    select
      md5('user:' || n)::uuid,
      case when n = 1 then ${DEMO_USER.email} else 'user' || n || '@demo.example' end,
      (array['Ana', 'Bruno', 'Carla', 'Diego', 'Elena', 'Felipe', 'Gabi', 'Hugo'])[1 + (n - 1) % 8]
        || ' ' || (array['Silva', 'Souza', 'Costa', 'Lima', 'Rocha'])[1 + (n - 1) % 5],
      ${DEMO_EPOCH}::timestamptz + n * interval '1 minute'
    from generate_series(1, ${s.organizations * s.usersPerOrganization}) as n`;
  await sql`
    insert into organization_members (organization_id, user_id, role, created_at)
    select
      md5('org:' || (1 + (n - 1) / ${s.usersPerOrganization}))::uuid,
      md5('user:' || n)::uuid,
      case (n - 1) % ${s.usersPerOrganization} when 0 then 'owner' when 1 then 'admin' else 'member' end,
      ${DEMO_EPOCH}::timestamptz + n * interval '1 minute'
    from generate_series(1, ${s.organizations * s.usersPerOrganization}) as n
    union all
    select md5('org:2')::uuid, md5('user:1')::uuid, 'member', ${DEMO_EPOCH}::timestamptz
    where ${s.organizations} >= 2`;
}

async function seedAgents(sql: Sql, s: DemoSizes): Promise<void> {
  await sql`
    insert into agents (id, organization_id, name, status, model, system_prompt, config, created_at, updated_at)
    select
      md5('agent:' || n)::uuid,
      md5('org:' || (1 + (n - 1) % ${s.organizations}))::uuid,
      (array['Sales Assistant', 'Support Bot', 'Onboarding Guide', 'Billing Helper', 'Lead Qualifier'])[1 + (n - 1) % 5]
        || ' #' || n,
      case when n % 11 = 0 then 'draft' when n % 7 = 0 then 'paused' else 'active' end,
      (array['gpt-4o', 'gpt-4o-mini', 'gpt-4.1'])[1 + (n - 1) % 3],
      'You are a helpful assistant for ' || (array['sales', 'support', 'onboarding', 'billing', 'lead qualification'])[1 + (n - 1) % 5]
        || '. Answer briefly, in the customer''s language, and hand off to a human when asked.',
      jsonb_build_object(
        'temperature', round((n % 10) / 10.0, 1),
        'max_tokens', 512 + (n % 4) * 256,
        'tools', case when n % 2 = 0 then '["crm_lookup", "kb_search"]'::jsonb else '["kb_search"]'::jsonb end),
      ${DEMO_EPOCH}::timestamptz + n * interval '1 minute',
      ${DEMO_EPOCH}::timestamptz + n * interval '1 minute'
    from generate_series(1, ${s.agents}) as n`;
  await sql`
    insert into agent_workflows (id, agent_id, name, position, steps, created_at)
    select
      md5('workflow:' || n || ':' || p)::uuid,
      md5('agent:' || n)::uuid,
      (array['Greeting', 'Qualification', 'Handoff'])[p + 1],
      p,
      jsonb_build_array(
        jsonb_build_object('type', 'message', 'template', (array['greet', 'ask_need', 'confirm_handoff'])[p + 1]),
        jsonb_build_object('type', (array['wait_reply', 'classify', 'assign_human'])[p + 1])),
      ${DEMO_EPOCH}::timestamptz + n * interval '1 minute'
    from generate_series(1, ${s.agents}) as n
    cross join generate_series(0, 2) as p`;
}

async function seedConversations(sql: Sql, s: DemoSizes): Promise<void> {
  await sql`
    insert into conversations (id, organization_id, agent_id, customer_id, status, created_at)
    select
      md5('conversation:' || n)::uuid,
      md5('org:' || (1 + (agent - 1) % ${s.organizations}))::uuid,
      md5('agent:' || agent)::uuid,
      'cust-' || lpad(((n * 7919) % 100000)::text, 5, '0'),
      case when n % 5 = 0 then 'closed' else 'open' end,
      ${DEMO_EPOCH}::timestamptz + n * interval '10 minutes'
    from generate_series(1, ${s.conversations}) as n
    cross join lateral (select 1 + (n - 1) % ${s.agents} as agent) as a`;
}

/** Messages alternate customer and assistant, 20 s apart within each conversation. */
async function seedMessageBatch(sql: Pool, s: DemoSizes, from: number, to: number, ids: SeedOptions["messageIds"]): Promise<void> {
  await sql.begin(async (tx) => {
    await tx`set local synchronous_commit = off`;
    await tx`
      insert into conversation_messages (id, conversation_id, role, content, metadata, created_at)
      select
        -- Time-ordered (UUIDv7) from the message's time, the rest from its number: the same flags give the same ids.
        ${ids === "random" ? tx`md5('message:' || n)::uuid` : tx`public.uuid_v7(${DEMO_EPOCH}::timestamptz + c * interval '10 minutes' + k * interval '20 seconds', decode(md5('message:' || n), 'hex'))`},
        md5('conversation:' || c)::uuid,
        case when k % 2 = 0 then 'user' else 'assistant' end,
        case when k % 2 = 0
          then (array['Hi, I need help with my order.', 'What are your prices?', 'Can I talk to a person?',
                      'My invoice looks wrong.', 'How do I reset my password?', 'Thanks, that solved it!'])[1 + n % 6]
          else (array['Sure! Could you share your order number?', 'Our plans start at $29 per month.',
                      'Of course, I am connecting you with a teammate now.', 'Let me check that invoice for you.',
                      'I have sent a reset link to your email.', 'Glad I could help. Anything else?'])[1 + n % 6]
        end,
        case when k % 2 = 0 then '{}'::jsonb
          else jsonb_build_object('tokens', 20 + n % 180, 'latency_ms', 300 + n % 1700) end,
        ${DEMO_EPOCH}::timestamptz + c * interval '10 minutes' + k * interval '20 seconds'
      from generate_series(${from}::bigint, ${to}::bigint) as n
      cross join lateral (select 1 + (n - 1) % ${s.conversations} as c, (n - 1) / ${s.conversations} as k) as pos`;
  });
}

async function seedMessages(sql: Pool, s: DemoSizes, { onProgress, messageIds }: SeedOptions): Promise<void> {
  for (let from = 1; from <= s.messages; from += MESSAGE_BATCH) {
    const to = Math.min(from + MESSAGE_BATCH - 1, s.messages);
    await seedMessageBatch(sql, s, from, to, messageIds);
    onProgress?.({ table: "conversation_messages", done: to, total: s.messages });
  }
}

async function seedKnowledgeAndCrm(sql: Sql, s: DemoSizes): Promise<void> {
  await sql`
    insert into knowledge_base_categories (id, organization_id, name, description, created_at)
    select
      md5('kb-category:' || o || ':' || k)::uuid,
      md5('org:' || o)::uuid,
      (array['Billing', 'Shipping', 'Account'])[k],
      'Answers about ' || lower((array['Billing', 'Shipping', 'Account'])[k]),
      ${DEMO_EPOCH}::timestamptz
    from generate_series(1, ${s.organizations}) as o
    cross join generate_series(1, 3) as k`;
  await sql`
    insert into knowledge_base_items (id, organization_id, category_id, title, content, created_at, updated_at)
    select
      md5('kb-item:' || o || ':' || k || ':' || i)::uuid,
      md5('org:' || o)::uuid,
      md5('kb-category:' || o || ':' || k)::uuid,
      (array['Billing', 'Shipping', 'Account'])[k] || ' FAQ ' || i,
      'Question ' || i || ' about ' || lower((array['Billing', 'Shipping', 'Account'])[k]) || ', with its answer.',
      ${DEMO_EPOCH}::timestamptz,
      ${DEMO_EPOCH}::timestamptz
    from generate_series(1, ${s.organizations}) as o
    cross join generate_series(1, 3) as k
    cross join generate_series(1, 5) as i`;
  await sql`
    insert into crm_accounts (id, organization_id, kommo_account_id, name, created_at, updated_at)
    select md5('crm:' || o)::uuid, md5('org:' || o)::uuid, 30000000 + o, 'Kommo account ' || o,
      ${DEMO_EPOCH}::timestamptz, ${DEMO_EPOCH}::timestamptz
    from generate_series(1, ${s.organizations}) as o`;
  await sql`
    insert into analytics_events (organization_id, agent_id, conversation_id, event_type, properties, created_at)
    select
      md5('org:' || (1 + (agent - 1) % ${s.organizations}))::uuid,
      md5('agent:' || agent)::uuid,
      md5('conversation:' || n)::uuid,
      e.event_type,
      jsonb_build_object('channel', (array['whatsapp', 'web', 'instagram'])[1 + n % 3]),
      ${DEMO_EPOCH}::timestamptz + n * interval '10 minutes' + e.offset_time
    from generate_series(1, ${s.conversations}) as n
    cross join lateral (select 1 + (n - 1) % ${s.agents} as agent) as a
    cross join (values ('conversation_started', interval '0'), ('conversation_rated', interval '1 hour'))
      as e (event_type, offset_time)`;
}

function validated(sizes: DemoSizes): DemoSizes {
  for (const [name, value] of Object.entries(sizes)) {
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new DemoDataError(`${name} must be a whole number of at least 1 (got ${value})`);
    }
  }
  return sizes;
}

/** Fills an empty database (or, with `reset`, replaces all its data) with demo data of these sizes. */
export async function seedDemoData(sql: Pool, sizes: DemoSizes, { reset = false, onProgress, messageIds }: SeedOptions = {}): Promise<void> {
  const s = validated(sizes);
  if (reset) await clear(sql);
  else if (await hasData(sql)) {
    throw new DemoDataError("the database already has organizations; pass --reset to replace all its data");
  }
  await seedOrganizations(sql, s);
  onProgress?.({ table: "organizations", done: s.organizations, total: s.organizations });
  await seedAgents(sql, s);
  onProgress?.({ table: "agents", done: s.agents, total: s.agents });
  await seedConversations(sql, s);
  onProgress?.({ table: "conversations", done: s.conversations, total: s.conversations });
  await seedMessages(sql, s, { onProgress, messageIds });
  await seedKnowledgeAndCrm(sql, s);
  await sql`analyze`;
}
