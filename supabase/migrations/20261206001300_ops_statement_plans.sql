-- Each top statement's generic plan shape as the stats snapshots saw it: a row each time the
-- shape (node types, relations, indexes; not costs) differs from the one seen before. A row
-- with a previous one is a plan change, shown on the statement's charts.
create table ops.statement_plans (
  id bigint generated always as identity primary key,
  queryid bigint not null,
  fingerprint text not null,
  -- the shape's scans, one per line: "Index Scan using idx_x on messages"
  summary text not null,
  -- the generic plan as EXPLAIN prints it, without costs
  plan text not null,
  -- the time of the snapshot that first saw it (its statement figures carry the same time)
  first_seen_at timestamptz not null,
  last_seen_at timestamptz not null
);

create index idx_statement_plans_queryid on ops.statement_plans (queryid, first_seen_at desc);
create index idx_statement_plans_first_seen on ops.statement_plans (first_seen_at);
