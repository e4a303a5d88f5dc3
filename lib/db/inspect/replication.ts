/** Standbys and replication slots: how far behind each replica is, and the WAL each slot holds back. */
import type { Sql } from "../pool.js";

export interface Standby {
  application: string;
  clientAddress: string | null;
  state: string;
  syncState: string;
  /** Bytes of WAL sent but not yet replayed on the standby. */
  replayLagBytes: number | null;
  /** The standby's own measure of its replay delay; null while idle. */
  replayLagSeconds: number | null;
}

export interface ReplicationSlot {
  name: string;
  kind: string;
  database: string | null;
  active: boolean;
  /** WAL the server keeps for the slot: it grows without bound while an inactive slot is left behind. */
  retainedBytes: number | null;
}

export interface Replication {
  /** True on a standby: it has no standbys or slots of its own to judge here. */
  inRecovery: boolean;
  standbys: Standby[];
  slots: ReplicationSlot[];
}

/** The server's standbys (pg_stat_replication) and slots (pg_replication_slots). */
export async function replication(sql: Sql): Promise<Replication> {
  const [state] = await sql<{ inRecovery: boolean }[]>`select pg_is_in_recovery() as "inRecovery"`;
  const inRecovery = state?.inRecovery ?? false;
  const standbys = await sql<Standby[]>`
    select
      coalesce(nullif(application_name, ''), '(none)') as application,
      client_addr::text as "clientAddress",
      coalesce(state, '(unknown)') as state,
      coalesce(sync_state, '(unknown)') as "syncState",
      case when ${inRecovery} then null else pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::float8 end as "replayLagBytes",
      extract(epoch from replay_lag)::float8 as "replayLagSeconds"
    from pg_stat_replication
    order by application, "clientAddress"`;
  const slots = await sql<ReplicationSlot[]>`
    select
      slot_name::text as name,
      slot_type as kind,
      database::text as database,
      active,
      case when ${inRecovery} or restart_lsn is null then null else pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::float8 end as "retainedBytes"
    from pg_replication_slots
    order by name`;
  return { inRecovery, standbys, slots };
}
