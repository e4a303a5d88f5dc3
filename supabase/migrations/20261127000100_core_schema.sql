-- The platform's tables. Every table has row level security on and no policy: the
-- platform reads through its own server-side connection, and Supabase's public REST API
-- (anon and authenticated keys) must not see these rows.
--
-- Index names follow the seed's list. Left out because each is the leading prefix of
-- another index on the same table, which serves every query it would (an index on
-- (a, b) answers lookups on a alone), so it would only cost writes and memory:
--   idx_messages_conversation_id (conversation_id)
--       prefix of idx_messages_conversation_created (conversation_id, created_at desc, id desc)
--   idx_analytics_events_organization_id (organization_id)
--       prefix of idx_analytics_events_org_created (organization_id, created_at desc)
--   idx_agents_organization_id (organization_id)
--       prefix of idx_agents_organization_created (organization_id, created_at desc, id desc)
--   idx_kb_categories_organization_id (organization_id)
--       prefix of the unique constraint knowledge_base_categories (organization_id, name)
--   idx_crm_accounts_organization_id (organization_id)
--       prefix of the unique constraint crm_accounts (organization_id, kommo_account_id)
-- Added beyond the seed: idx_agent_workflows_agent_position, since the agent lookup reads
-- an agent's workflows by agent_id in position order; and `id` as the last column of the
-- message index, the tie-breaker that lets cursor pagination read the index without a sort.

create or replace function set_updated_at() returns trigger
language plpgsql as $$
begin
  new.updated_at := now();
  return new;
end
$$;

create table organizations (
  id uuid primary key default gen_random_uuid(),
  name text not null check (length(name) between 1 and 200),
  slug text not null unique check (slug ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
  created_at timestamptz not null default now()
);

-- On Supabase, users.id is the auth.users id: the `sub` of the caller's access token.
create table users (
  id uuid primary key default gen_random_uuid(),
  email text not null check (email ~ '^[^@\s]+@[^@\s]+$'),
  full_name text check (length(full_name) <= 200),
  created_at timestamptz not null default now()
);
create unique index idx_users_email on users (lower(email));

create table organization_members (
  organization_id uuid not null references organizations (id) on delete cascade,
  user_id uuid not null references users (id) on delete cascade,
  role text not null default 'member' check (role in ('owner', 'admin', 'member')),
  created_at timestamptz not null default now(),
  primary key (organization_id, user_id)
);
create index idx_organization_members_user_id on organization_members (user_id);

create table agents (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null references organizations (id) on delete cascade,
  name text not null check (length(name) between 1 and 200),
  status text not null default 'draft' check (status in ('draft', 'active', 'paused', 'archived')),
  model text not null check (length(model) between 1 and 100),
  system_prompt text not null default '' check (length(system_prompt) <= 100000),
  config jsonb not null default '{}' check (jsonb_typeof(config) = 'object'),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index idx_agents_organization_created on agents (organization_id, created_at desc, id desc);
create trigger agents_set_updated_at before update on agents
  for each row execute function set_updated_at();

create table agent_workflows (
  id uuid primary key default gen_random_uuid(),
  agent_id uuid not null references agents (id) on delete cascade,
  name text not null check (length(name) between 1 and 200),
  position integer not null check (position >= 0),
  steps jsonb not null default '[]' check (jsonb_typeof(steps) = 'array'),
  created_at timestamptz not null default now()
);
create unique index idx_agent_workflows_agent_position on agent_workflows (agent_id, position);

create table conversations (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null references organizations (id) on delete cascade,
  agent_id uuid not null references agents (id) on delete cascade,
  customer_id text not null check (length(customer_id) between 1 and 200),
  status text not null default 'open' check (status in ('open', 'closed', 'archived')),
  created_at timestamptz not null default now()
);
create index idx_conversations_organization_id on conversations (organization_id);
create index idx_conversations_agent_id on conversations (agent_id);
create index idx_conversations_customer_id on conversations (customer_id);

create table conversation_messages (
  id uuid primary key default gen_random_uuid(),
  conversation_id uuid not null references conversations (id) on delete cascade,
  role text not null check (role in ('system', 'user', 'assistant', 'tool')),
  content text not null,
  metadata jsonb not null default '{}' check (jsonb_typeof(metadata) = 'object'),
  created_at timestamptz not null default now()
);
create index idx_messages_conversation_created
  on conversation_messages (conversation_id, created_at desc, id desc);

create table knowledge_base_categories (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null references organizations (id) on delete cascade,
  name text not null check (length(name) between 1 and 200),
  description text,
  created_at timestamptz not null default now(),
  unique (organization_id, name)
);

create table knowledge_base_items (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null references organizations (id) on delete cascade,
  category_id uuid references knowledge_base_categories (id) on delete set null,
  title text not null check (length(title) between 1 and 500),
  content text not null,
  metadata jsonb not null default '{}' check (jsonb_typeof(metadata) = 'object'),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index idx_kb_items_organization_id on knowledge_base_items (organization_id);
create index idx_kb_items_category_id on knowledge_base_items (category_id);
create trigger knowledge_base_items_set_updated_at before update on knowledge_base_items
  for each row execute function set_updated_at();

-- The embedding column and its HNSW index exist only where pgvector does (HNSW needs 0.5+).
do $$
declare
  vector_schema text;
begin
  select n.nspname into vector_schema
  from pg_extension e join pg_namespace n on n.oid = e.extnamespace
  where e.extname = 'vector';
  if vector_schema is null then
    raise notice 'pgvector is not installed: knowledge_base_items.embedding and idx_kb_items_embedding skipped';
    return;
  end if;
  execute format('alter table knowledge_base_items add column embedding %I.vector(1536)', vector_schema);
  begin
    execute format(
      'create index idx_kb_items_embedding on knowledge_base_items using hnsw (embedding %I.vector_cosine_ops)',
      vector_schema);
  exception when others then
    raise notice 'pgvector here has no HNSW (%): idx_kb_items_embedding skipped', sqlerrm;
  end;
end
$$;

create table crm_accounts (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null references organizations (id) on delete cascade,
  kommo_account_id bigint not null check (kommo_account_id > 0),
  name text not null check (length(name) between 1 and 200),
  settings jsonb not null default '{}' check (jsonb_typeof(settings) = 'object'),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (organization_id, kommo_account_id)
);
-- Kommo webhooks name only their account: this finds its organization.
create index idx_crm_accounts_kommo_account_id on crm_accounts (kommo_account_id);
create trigger crm_accounts_set_updated_at before update on crm_accounts
  for each row execute function set_updated_at();

-- Events are facts that outlive what they describe: agent_id and conversation_id are
-- kept without foreign keys, so deleting an agent neither scans nor rewrites history.
create table analytics_events (
  id bigint generated always as identity primary key,
  organization_id uuid not null references organizations (id) on delete cascade,
  agent_id uuid,
  conversation_id uuid,
  event_type text not null check (length(event_type) between 1 and 100),
  properties jsonb not null default '{}' check (jsonb_typeof(properties) = 'object'),
  created_at timestamptz not null default now()
);
create index idx_analytics_events_org_created on analytics_events (organization_id, created_at desc);
create index idx_analytics_events_event_type on analytics_events (organization_id, event_type, created_at desc);

create table job_queue_jobs (
  id uuid primary key default gen_random_uuid(),
  queue text not null check (length(queue) between 1 and 100),
  name text not null check (length(name) between 1 and 200),
  payload jsonb not null default '{}',
  status text not null default 'pending'
    check (status in ('pending', 'running', 'succeeded', 'failed', 'dead')),
  attempts integer not null default 0 check (attempts >= 0),
  max_attempts integer not null default 5 check (max_attempts > 0),
  dedupe_key text,
  run_at timestamptz not null default now(),
  locked_at timestamptz,
  locked_by text,
  last_error text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
-- Workers poll only what is due; finished jobs stay out of the index.
create index idx_job_queue_jobs_status_run_at on job_queue_jobs (status, run_at)
  where status in ('pending', 'running');
create unique index idx_job_queue_jobs_dedupe_key on job_queue_jobs (queue, dedupe_key)
  where dedupe_key is not null;
create trigger job_queue_jobs_set_updated_at before update on job_queue_jobs
  for each row execute function set_updated_at();

alter table organizations enable row level security;
alter table users enable row level security;
alter table organization_members enable row level security;
alter table agents enable row level security;
alter table agent_workflows enable row level security;
alter table conversations enable row level security;
alter table conversation_messages enable row level security;
alter table knowledge_base_categories enable row level security;
alter table knowledge_base_items enable row level security;
alter table crm_accounts enable row level security;
alter table analytics_events enable row level security;
alter table job_queue_jobs enable row level security;
