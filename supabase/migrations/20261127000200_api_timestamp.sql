-- Timestamps leave the database as ISO 8601 text in UTC with all six fractional digits.
-- A JavaScript Date keeps milliseconds only, so cursors built from one would skip or repeat
-- rows that share a millisecond; json_build_object's rendering depends on the session's
-- TimeZone, which a transaction pooler does not keep. This function depends on neither.
create or replace function api_timestamp(value timestamptz) returns text
language sql immutable strict parallel safe
as $$ select to_char(value at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') $$;
