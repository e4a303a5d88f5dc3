-- Statement texts without their literals: pg_stat_statements keeps utility statements verbatim
-- (ALTER ROLE ... PASSWORD '...', CREATE USER MAPPING ... OPTIONS (password '...'), SET ...),
-- and pg_stat_activity shows running statements as sent. Every text the platform stores, shows
-- or exports passes through this: each quoted literal ('...', E'...', $tag$...$tag$) becomes
-- '***', and a literal cut off by a truncated text is redacted to its end. Normalized texts
-- ($1, $2) are unchanged.
create function ops.redacted_statement(query text) returns text
language sql immutable parallel safe
as $fn$
  select replace(
    regexp_replace(
      regexp_replace(
        regexp_replace(
          regexp_replace(
            regexp_replace(query, '\$([A-Za-z_][A-Za-z_0-9]*|)\$.*\$\1\$', E'\x01', 'g'),
            '\$([A-Za-z_][A-Za-z_0-9]*|)\$.*$', E'\x01'),
          '[Ee]''(?:[^''\\]|\\.|'''')*''', E'\x01', 'g'),
        '''(?:[^'']|'''')*''', E'\x01', 'g'),
      '''.*$', E'\x01'),
    E'\x01', '''***''')
$fn$;

update ops.query_texts set query = ops.redacted_statement(query) where query <> ops.redacted_statement(query);
