-- Extensions the platform uses when the server offers them. Each is optional: a server
-- without it still migrates, with a notice saying what is missing.

-- pg_stat_statements: the statement statistics behind `npm run db:inspect` and the
-- metrics endpoint. Supabase ships it enabled; a plain server needs it in
-- shared_preload_libraries before its view returns rows (the local platform preloads it).
do $$
begin
  if exists (select 1 from pg_extension where extname = 'pg_stat_statements') then
    return;
  end if;
  if not exists (select 1 from pg_available_extensions where name = 'pg_stat_statements') then
    raise notice 'pg_stat_statements is not available on this server: statement statistics are off';
    return;
  end if;
  begin
    if exists (select 1 from pg_namespace where nspname = 'extensions') then
      create extension pg_stat_statements with schema extensions;
    else
      create extension pg_stat_statements;
    end if;
  exception when insufficient_privilege then
    -- A managed database's owner is no superuser: the extension is created for it (on
    -- Supabase: Database > Extensions), and the migrations go on without it meanwhile.
    raise notice 'pg_stat_statements was not created (% as role %): statement statistics are off until a role that may creates it', sqlerrm, current_user;
  end;
end
$$;

-- pgvector: embeddings of knowledge base items.
do $$
begin
  if exists (select 1 from pg_extension where extname = 'vector') then
    return;
  end if;
  if not exists (select 1 from pg_available_extensions where name = 'vector') then
    raise notice 'pgvector is not available on this server: knowledge_base_items gets no embedding column';
    return;
  end if;
  begin
    if exists (select 1 from pg_namespace where nspname = 'extensions') then
      create extension vector with schema extensions;
    else
      create extension vector;
    end if;
  exception when insufficient_privilege then
    -- A managed database's owner is no superuser: the extension is created for it (on
    -- Supabase: Database > Extensions), and the migrations go on without it meanwhile.
    raise notice 'pgvector was not created (% as role %): knowledge_base_items gets no embedding column; to have one, create vector as a role that may before migrating', sqlerrm, current_user;
  end;
end
$$;
