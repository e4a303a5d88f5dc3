-- Extensions the platform uses when the server offers them. Each is optional: a server
-- without it still migrates, with a notice saying what is missing.

-- pg_stat_statements: the statement statistics behind `npm run db:inspect` and the
-- metrics endpoint. Supabase ships it enabled; a plain server needs it in
-- shared_preload_libraries before its view returns rows (the local platform preloads it).
do $$
begin
  if exists (select 1 from pg_available_extensions where name = 'pg_stat_statements') then
    if exists (select 1 from pg_namespace where nspname = 'extensions') then
      create extension if not exists pg_stat_statements with schema extensions;
    else
      create extension if not exists pg_stat_statements;
    end if;
  else
    raise notice 'pg_stat_statements is not available on this server: statement statistics are off';
  end if;
end
$$;

-- pgvector: embeddings of knowledge base items.
do $$
begin
  if exists (select 1 from pg_available_extensions where name = 'vector') then
    if exists (select 1 from pg_namespace where nspname = 'extensions') then
      create extension if not exists vector with schema extensions;
    else
      create extension if not exists vector;
    end if;
  else
    raise notice 'pgvector is not available on this server: knowledge_base_items gets no embedding column';
  end if;
end
$$;
