-- hypopg: hypothetical indexes, behind the index advice of `npm run db:inspect advice`.
-- Supabase ships it; a plain server needs its package (Debian: postgresql-15-hypopg), and
-- the local platform takes it from this machine's PostgreSQL packages when they have it.
-- Optional: without it the advice says so and the rest of the platform is unchanged.
do $$
begin
  if exists (select 1 from pg_extension where extname = 'hypopg') then
    return;
  end if;
  if not exists (select 1 from pg_available_extensions where name = 'hypopg') then
    raise notice 'hypopg is not available on this server: index advice is off';
    return;
  end if;
  begin
    if exists (select 1 from pg_namespace where nspname = 'extensions') then
      create extension hypopg with schema extensions;
    else
      create extension hypopg;
    end if;
  exception when insufficient_privilege then
    -- A managed database's owner is no superuser: the extension is created for it (on
    -- Supabase: Database > Extensions), and the migrations go on without it meanwhile.
    raise notice 'hypopg was not created (% as role %): index advice is off until a role that may creates it', sqlerrm, current_user;
  end;
end
$$;
