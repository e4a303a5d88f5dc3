-- hypopg: hypothetical indexes, behind the index advice of `npm run db:inspect advice`.
-- Supabase ships it; a plain server needs its package (Debian: postgresql-15-hypopg), and
-- the local platform takes it from this machine's PostgreSQL packages when they have it.
-- Optional: without it the advice says so and the rest of the platform is unchanged.
do $$
begin
  if exists (select 1 from pg_available_extensions where name = 'hypopg') then
    if exists (select 1 from pg_namespace where nspname = 'extensions') then
      create extension if not exists hypopg with schema extensions;
    else
      create extension if not exists hypopg;
    end if;
  else
    raise notice 'hypopg is not available on this server: index advice is off';
  end if;
end
$$;
