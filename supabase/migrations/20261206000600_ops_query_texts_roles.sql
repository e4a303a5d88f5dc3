-- The roles that ran each statement (pg_stat_statements keeps one row per role): the dashboard's
-- Queries view lists them, as PgHero does, and tells the platform's own statements from others'.
alter table ops.query_texts add column roles text[] not null default '{}';
