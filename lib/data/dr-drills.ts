/** The record of disaster-recovery drills (ops.dr_drills): what each restored, how long recovery took, or why it failed. */
import type { Sql } from "../db/pool.js";

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
