/** The record of disaster-recovery drills (ops.dr_drills): what each restored, how long recovery took, or why it failed. */
import type { Sql } from "../db/pool.js";

/** A drill starting here and now. */
export async function recordDrillStarted(sql: Sql): Promise<{ id: string }> {
  const [row] = await sql<{ id: string }[]>`insert into ops.dr_drills (status) values ('running') returning id::text as id`;
  if (!row) throw new Error("ops.dr_drills returned no row");
  return row;
}

/**
 * A drill handed to the worker, once per `handoffKey` (the day): the id of the new request, or
 * undefined when one was requested under that key already.
 */
export async function recordDrillRequested(sql: Sql, handoffKey: string): Promise<{ id: string } | undefined> {
  const [row] = await sql<{ id: string }[]>`
    insert into ops.dr_drills (status, handoff_key) values ('requested', ${handoffKey})
    on conflict (handoff_key) do nothing
    returning id::text as id`;
  return row;
}

/** Claims a requested drill (or a failed one, which a redelivery retries): true when this caller now runs it. */
export async function claimDrill(sql: Sql, id: string): Promise<boolean> {
  const rows = await sql`
    update ops.dr_drills set status = 'running', started_at = now(), finished_at = null, error = null
    where id = ${id} and status in ('requested', 'failed')
    returning id`;
  return rows.length === 1;
}

/** The scratch database drill `id` created, recorded as soon as it exists. */
export async function recordDrillScratch(sql: Sql, id: string, database: string): Promise<void> {
  await sql`update ops.dr_drills set scratch_database = ${database} where id = ${id}`;
}

export async function markDrillSucceeded(
  sql: Sql,
  id: string,
  done: {
    backupId: string | null;
    source: string;
    recoverySeconds: number;
    dataAgeSeconds: number | null;
    tables: number;
    rows: number;
    restoredBytes: number;
    analyzeSeconds: number;
  },
): Promise<void> {
  await sql`
    update ops.dr_drills
    set status = 'succeeded', finished_at = now(), backup_id = ${done.backupId}, source = ${done.source},
      recovery_seconds = ${done.recoverySeconds}, data_age_seconds = ${done.dataAgeSeconds}, tables = ${done.tables}, row_count = ${done.rows},
      restored_bytes = ${done.restoredBytes}, analyze_seconds = ${done.analyzeSeconds}
    where id = ${id}`;
}

export async function markDrillFailed(sql: Sql, id: string, error: string, source: string | null = null): Promise<void> {
  await sql`update ops.dr_drills set status = 'failed', finished_at = now(), error = ${error}, source = coalesce(${source}, source) where id = ${id}`;
}

/** Marks a drill QStash gave up delivering as failed, unless it got further: true when it was still waiting or running. */
export async function markDrillUndelivered(sql: Sql, id: string, error: string): Promise<boolean> {
  const rows = await sql`
    update ops.dr_drills set status = 'failed', finished_at = now(), error = ${error}
    where id = ${id} and status in ('requested', 'running')
    returning id`;
  return rows.length === 1;
}

export interface RecoveryProjection {
  /** This database's size now. */
  databaseBytes: number;
  /** The newest drill that measured its restored size: when it ran, what it restored, in how long. */
  drilledAt: string;
  restoredBytes: number;
  recoverySeconds: number;
  /** The database's size today at that drill's throughput. */
  projectedSeconds: number;
}

/** What a recovery of this database would take today, at the newest measuring drill's throughput; undefined before one. */
export async function recoveryProjection(sql: Sql): Promise<RecoveryProjection | undefined> {
  const [row] = await sql<RecoveryProjection[]>`
    select
      pg_database_size(current_database())::float8 as "databaseBytes",
      finished_at::text as "drilledAt",
      restored_bytes::float8 as "restoredBytes",
      recovery_seconds as "recoverySeconds",
      pg_database_size(current_database()) * recovery_seconds / restored_bytes as "projectedSeconds"
    from ops.dr_drills
    where status = 'succeeded' and restored_bytes > 0
    order by finished_at desc
    limit 1`;
  return row;
}
