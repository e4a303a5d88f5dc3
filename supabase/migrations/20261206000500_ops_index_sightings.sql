-- Since when an index's usage has been counted. PostgreSQL keeps idx_scan from the index's
-- creation or the last statistics reset, and records no creation time: a young or restored
-- database would call its core indexes "unused". Each stats snapshot notes every index the
-- first time it sees it (by oid, so a restored or recreated index is a new one) and again
-- whenever its scan count goes back (a reset of that table's counters).
create table ops.index_sightings (
  index_oid oid primary key,
  schema_name text not null,
  index_name text not null,
  counted_since timestamptz not null,
  scans bigint not null
);
