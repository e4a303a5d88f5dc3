/** Who is connected, doing what, and how close the server is to its connection limit. */
import type postgres from "postgres";
import type { Sql } from "../pool.js";
import { clientSession, HIDDEN_QUERY } from "./visibility.js";

/** max_connections minus the slots reserved for superusers (and, on PostgreSQL 16, for reserved roles). */
export function usableConnections(sql: Sql): postgres.PendingQuery<postgres.Row[]> {
  return sql`(
    current_setting('max_connections')::int
    - current_setting('superuser_reserved_connections')::int
    - coalesce(nullif(current_setting('reserved_connections', true), ''), '0')::int)`;
}

export interface ConnectionUsage {
  /** Client backends of every database on the server. */
  total: number;
  usable: number;
  usageRatio: number;
  /** Client backends of this database, and their share of the usable slots. */
  thisDatabase: number;
  thisDatabaseRatio: number;
  active: number;
  idle: number;
  idleInTransaction: number;
  waiting: number;
  /** Sessions counted whose state this role may not see (it lacks pg_read_all_stats). */
  hidden: number;
}

/** Client connections of every database against max_connections minus the reserved slots, this database's beside them. */
export async function connectionUsage(sql: Sql): Promise<ConnectionUsage> {
  const [row] = await sql<ConnectionUsage[]>`
    with settings as (
      select ${usableConnections(sql)} as usable
    )
    select
      count(*)::int as total,
      (select usable from settings) as usable,
      round(count(*)::numeric / (select usable from settings), 4)::float8 as "usageRatio",
      (count(*) filter (where datname = current_database()))::int as "thisDatabase",
      round((count(*) filter (where datname = current_database()))::numeric / (select usable from settings), 4)::float8 as "thisDatabaseRatio",
      (count(*) filter (where state = 'active'))::int as active,
      (count(*) filter (where state = 'idle'))::int as idle,
      (count(*) filter (where state in ('idle in transaction', 'idle in transaction (aborted)')))::int as "idleInTransaction",
      (count(*) filter (where wait_event_type = 'Lock'))::int as waiting,
      (count(*) filter (where query = ${HIDDEN_QUERY}))::int as hidden
    from pg_stat_activity
    where ${clientSession(sql)}`;
  if (!row) throw new Error("pg_stat_activity returned no row");
  return row;
}

export interface ConnectionSource {
  application: string;
  role: string;
  state: string;
  connections: number;
}

/** Client connections by application, role and state, largest groups first. */
export async function connectionSources(sql: Sql): Promise<ConnectionSource[]> {
  return sql<ConnectionSource[]>`
    select
      coalesce(nullif(application_name, ''), '(none)') as application,
      coalesce(usename, '(none)') as role,
      case when query = ${HIDDEN_QUERY} then '(hidden)' else coalesce(state, '(unknown)') end as state,
      count(*)::int as connections
    from pg_stat_activity
    where ${clientSession(sql)}
    group by 1, 2, 3
    order by connections desc, application, role, state`;
}

export interface ConnectionGroup {
  database: string;
  role: string;
  application: string;
  /** Whether the connection is encrypted (pg_stat_ssl); null where this role may not see it. */
  ssl: boolean | null;
  connections: number;
  active: number;
}

/** Client connections of every database on the server by database, role, application and SSL, largest groups first (PgHero's connection sources). */
export async function connectionGroups(sql: Sql): Promise<ConnectionGroup[]> {
  return sql<ConnectionGroup[]>`
    select
      coalesce(a.datname, '(none)') as database,
      coalesce(a.usename, '(hidden)') as role,
      coalesce(nullif(a.application_name, ''), '(none)') as application,
      s.ssl,
      count(*)::int as connections,
      (count(*) filter (where a.state = 'active'))::int as active
    from pg_stat_activity a
    left join pg_stat_ssl s on s.pid = a.pid
    where ${clientSession(sql)}
    group by 1, 2, 3, 4
    order by connections desc, database, role, application`;
}
