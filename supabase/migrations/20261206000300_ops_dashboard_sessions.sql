-- The dashboard's sessions: each sign-in gets a row, and its cookie names the row (the JWT's
-- jti). A cookie is honoured only while its row is open, so signing out ends that session at
-- once, and ending every open row signs everyone out (a restore does too).
create table ops.dashboard_sessions (
  id uuid primary key,
  signed_in_at timestamptz not null default now(),
  expires_at timestamptz not null,
  ended_at timestamptz,
  ended_by text check (ended_by in ('sign-out', 'sign-out-everywhere', 'restore')),
  check ((ended_at is null) = (ended_by is null))
);

create index dashboard_sessions_open on ops.dashboard_sessions (expires_at) where ended_at is null;
