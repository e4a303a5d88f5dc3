/**
 * The record of backup runs (ops.backups, one row per run, kept after its archive expires)
 * and of each copy a run made (ops.backup_copies: the local archive, the bucket's). A run's
 * lifecycle (recorded, claimed, failed), shared with the drill, is lib/data/job-runs.ts.
 */
import type postgres from "postgres";
import { errorCode } from "../db/errors.js";
import type { Pool, Sql } from "../db/pool.js";
import { endAllSessions } from "./dashboard-sessions.js";

export async function markBackupSucceeded(
  sql: Sql,
  id: string,
  done: { location: string; sizeBytes: number; sha256: string; encrypted: boolean; signed: boolean },
): Promise<void> {
  await sql`
    update ops.backups
    set status = 'succeeded', finished_at = now(), location = ${done.location}, size_bytes = ${done.sizeBytes},
      sha256 = ${done.sha256}, encrypted = ${done.encrypted}, signed = ${done.signed}
    where id = ${id}`;
}

export type CopyStatus = "uploading" | "verified" | "failed" | "deleted";

/** Records (or updates) where a copy of backup `id` is and what state it is in. */
export async function recordBackupCopy(
  sql: Sql,
  id: string,
  location: string,
  copy: { status: CopyStatus; sizeBytes?: number; sha256?: string; error?: string },
): Promise<void> {
  await sql`
    insert into ops.backup_copies (backup_id, location, status, size_bytes, sha256, error, verified_at, deleted_at)
    values (
      ${id}, ${location}, ${copy.status}, ${copy.sizeBytes ?? null}, ${copy.sha256 ?? null}, ${copy.error ?? null},
      case when ${copy.status} = 'verified' then now() end,
      case when ${copy.status} = 'deleted' then now() end)
    on conflict (backup_id, location) do update
    set status = excluded.status,
      size_bytes = coalesce(excluded.size_bytes, ops.backup_copies.size_bytes),
      sha256 = coalesce(excluded.sha256, ops.backup_copies.sha256),
      error = excluded.error,
      verified_at = coalesce(excluded.verified_at, ops.backup_copies.verified_at),
      deleted_at = excluded.deleted_at`;
}

export interface ExpiredBackup {
  id: string;
  /** Every copy still kept: the run's own location and its recorded copies. */
  locations: string[];
}

/**
 * Successful backups finished more than `retentionDays` ago whose archives are still there,
 * leaving out the newest `keep` successes whatever their age.
 */
export function expiredBackups(sql: Sql, retentionDays: number, keep: number): postgres.PendingQuery<ExpiredBackup[]> {
  return sql<ExpiredBackup[]>`
    select
      b.id::text as id,
      to_json(array(
        select location from ops.backup_copies c where c.backup_id = b.id and c.status <> 'deleted'
        union
        select b.location where b.location is not null
          and not exists (select 1 from ops.backup_copies d where d.backup_id = b.id and d.location = b.location and d.status = 'deleted')
        order by 1)) as locations
    from ops.backups b
    where b.status = 'succeeded' and b.deleted_at is null
      and b.finished_at < now() - make_interval(days => ${retentionDays})
      and b.id not in (
        select id from ops.backups where status = 'succeeded' and deleted_at is null order by finished_at desc limit ${keep})
    order by b.finished_at`;
}

export async function markBackupDeleted(sql: Sql, id: string): Promise<void> {
  await sql`update ops.backups set deleted_at = now() where id = ${id}`;
}

/**
 * How old the recovery point is: since the newest successful backup, else since the stats
 * history began (a new installation is not late until it has run that long without one).
 */
export async function recoveryPointAge(sql: Sql): Promise<{ seconds: number | null; newestBackupAt: string | null }> {
  const [row] = await sql<{ seconds: number | null; newestBackupAt: string | null }[]>`
    with newest as (select max(finished_at) as at from ops.backups where status = 'succeeded')
    select
      extract(epoch from now() - coalesce((select at from newest), (select min(taken_at) from ops.db_stats_snapshots)))::float8 as seconds,
      (select at from newest)::text as "newestBackupAt"`;
  return row ?? { seconds: null, newestBackupAt: null };
}

/** Whether ops.backups has a run of this id (a manifest's backup id may come from another installation). */
export async function backupRecorded(sql: Sql, id: string): Promise<boolean> {
  const [row] = await sql`select 1 as present from ops.backups where id = ${id}`;
  return Boolean(row);
}

/** The newest successful backup this database records, if any. */
export async function newestSucceededBackup(sql: Sql): Promise<{ id: string; finishedAt: string } | undefined> {
  const [row] = await sql<{ id: string; finishedAt: Date }[]>`
    select id::text as id, finished_at as "finishedAt" from ops.backups where status = 'succeeded' order by finished_at desc, id desc limit 1`;
  return row ? { id: row.id, finishedAt: row.finishedAt.toISOString() } : undefined;
}

export interface RestoredFrom {
  backupId: string;
  finishedAt: string;
  /** Where the archive was read from. */
  location: string;
  sizeBytes: number;
  sha256: string;
  encrypted: boolean;
}

/** The copies on disk this database records as verified: after a restore, each is looked for. */
export async function verifiedLocalCopies(sql: Sql): Promise<Array<{ location: string; sizeBytes: number }>> {
  return sql<Array<{ location: string; sizeBytes: number }>>`
    select location, size_bytes::float8 as "sizeBytes" from ops.backup_copies where status = 'verified' and location like 'file:%' order by location`;
}

/**
 * The record of a database just restored from backup `from`, told the truth: that run was
 * still running in the snapshot it took, so it is marked succeeded as its manifest says, with
 * the copy the restore read; every other run or drill in flight then never finished here; and
 * the copies in `unseen` (on a disk this machine cannot see: the lost worker's) are no longer
 * known to be there; every dashboard session ends. The schema of a backup older than the
 * 'unconfirmed' status keeps those copies as they were: false is returned then.
 */
export async function markRestoredRecord(sql: Pool, from: RestoredFrom, unseen: readonly string[], restoredAt: Date = new Date()): Promise<boolean> {
  const note = `the database was restored on ${restoredAt.toISOString()} from backup ${from.backupId} (taken ${from.finishedAt})`;
  return sql.begin(async (tx) => {
    await tx`
      update ops.backups
      set status = 'succeeded', finished_at = ${from.finishedAt}, location = coalesce(location, ${from.location}), size_bytes = ${from.sizeBytes},
        sha256 = ${from.sha256}, encrypted = ${from.encrypted}, signed = true, error = null
      where id = ${from.backupId} and status in ('requested', 'running')`;
    await tx`
      insert into ops.backup_copies (backup_id, location, status, size_bytes, sha256, verified_at)
      select id, ${from.location}, 'verified', ${from.sizeBytes}, ${from.sha256}, ${restoredAt} from ops.backups where id = ${from.backupId}
      on conflict (backup_id, location) do update set status = 'verified', size_bytes = excluded.size_bytes, sha256 = excluded.sha256, verified_at = excluded.verified_at, error = null`;
    await tx`
      update ops.backups set status = 'failed', finished_at = ${restoredAt}, error = ${`interrupted: ${note}`}
      where status in ('requested', 'running') and id <> ${from.backupId}`;
    await tx`
      update ops.dr_drills set status = 'failed', finished_at = ${restoredAt}, error = ${`interrupted: ${note}`}
      where status in ('requested', 'running')`;
    // Whoever was signed in to the dashboard signed in to the database before it: they sign in again.
    const [sessions] = await tx<Array<{ kept: boolean }>>`select to_regclass('ops.dashboard_sessions') is not null as kept`;
    if (sessions?.kept) await endAllSessions(tx, "restore");
    if (!unseen.length) return true;
    return tx
      .savepoint(async (sp) => {
        await sp`
          update ops.backup_copies set status = 'unconfirmed', error = ${`not found on the machine that restored it; ${note}`}
          where location in ${sp(unseen as string[])} and status = 'verified'`;
        return true;
      })
      .catch((error: unknown) => {
        if (errorCode(error) !== "23514") throw error;
        return false;
      });
  });
}
