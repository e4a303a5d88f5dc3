-- Statement texts are redacted by PostgreSQL's own lexer (lib/db/redaction.ts), no longer by
-- ops.redacted_statement()'s regular expressions, which knew neither comments, nor quoted
-- identifiers, nor every dollar-quote tag. Texts stored before are redacted again by the stats
-- snapshots, from pg_stat_statements' original where it still has one; `lexer` says which are done.
alter table ops.query_texts add column lexer boolean not null default false;
create index idx_query_texts_not_lexer on ops.query_texts (queryid) where not lexer;
drop function ops.redacted_statement(text);
