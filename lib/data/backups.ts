/** The record of backup runs (ops.backups): one row per run, kept after its archive expires. */
import type postgres from "postgres";

type Sql = postgres.ISql;

export async function startedBackup(sql: Sql): Promise<{ id: string }> {
  const [row] = await sql<{ id: string }[]>`
    insert into ops.backups (started_at, status) values (now(), 'running') returning id::text as id`;
  if (!row) throw new Error("ops.backups returned no row");
  return row;
}

/** A run handed to the worker: it waits as `requested` until the worker claims it. */
export async function requestedBackup(sql: Sql): Promise<{ id: string }> {
  const [row] = await sql<{ id: string }[]>`insert into ops.backups (status) values ('requested') returning id::text as id`;
  if (!row) throw new Error("ops.backups returned no row");
  return row;
}

/**
 * Claims a requested run (or a failed one, which a redelivery retries): true when this caller
 * now runs it, false when it is running or done already (a duplicate delivery).
 */
export async function claimedBackup(sql: Sql, id: string): Promise<boolean> {
  const rows = await sql`
    update ops.backups set status = 'running', started_at = now(), finished_at = null, error = null
    where id = ${id} and status in ('requested', 'failed')
    returning id`;
  return rows.length === 1;
}

export async function succeededBackup(sql: Sql, id: string, done: { location: string; sizeBytes: number; sha256: string }): Promise<void> {
  await sql`
    update ops.backups
    set status = 'succeeded', finished_at = now(), location = ${done.location}, size_bytes = ${done.sizeBytes}, sha256 = ${done.sha256}
    where id = ${id}`;
}

export async function failedBackup(sql: Sql, id: string, error: string): Promise<void> {
  await sql`update ops.backups set status = 'failed', finished_at = now(), error = ${error} where id = ${id}`;
}

/**
 * Successful backups finished more than `retentionDays` ago whose archives are still there,
 * leaving out the newest `keep` successes whatever their age.
 */
export function expiredBackups(sql: Sql, retentionDays: number, keep: number): postgres.PendingQuery<{ id: string; location: string }[]> {
  return sql<{ id: string; location: string }[]>`
    select id::text as id, location
    from ops.backups
    where status = 'succeeded' and deleted_at is null
      and finished_at < now() - make_interval(days => ${retentionDays})
      and id not in (
        select id from ops.backups where status = 'succeeded' and deleted_at is null order by finished_at desc limit ${keep})
    order by finished_at`;
}

export async function deletedBackup(sql: Sql, id: string): Promise<void> {
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

/** The newest successful backup whose archive is still kept. */
export async function newestKeptBackup(sql: Sql): Promise<{ id: string; location: string; finishedAt: string; ageSeconds: number } | undefined> {
  const [row] = await sql<{ id: string; location: string; finishedAt: string; ageSeconds: number }[]>`
    select id::text as id, location, finished_at::text as "finishedAt", extract(epoch from now() - finished_at)::float8 as "ageSeconds"
    from ops.backups
    where status = 'succeeded' and deleted_at is null
    order by finished_at desc
    limit 1`;
  return row;
}

export async function startedDrill(sql: Sql, backupId: string | null): Promise<{ id: string }> {
  const [row] = await sql<{ id: string }[]>`insert into ops.dr_drills (backup_id) values (${backupId}) returning id::text as id`;
  if (!row) throw new Error("ops.dr_drills returned no row");
  return row;
}

export async function succeededDrill(
  sql: Sql,
  id: string,
  done: { recoverySeconds: number; dataAgeSeconds: number | null; tables: number; rows: number },
): Promise<void> {
  await sql`
    update ops.dr_drills
    set status = 'succeeded', finished_at = now(), recovery_seconds = ${done.recoverySeconds},
      data_age_seconds = ${done.dataAgeSeconds}, tables = ${done.tables}, row_count = ${done.rows}
    where id = ${id}`;
}

export async function failedDrill(sql: Sql, id: string, error: string): Promise<void> {
  await sql`update ops.dr_drills set status = 'failed', finished_at = now(), error = ${error} where id = ${id}`;
}
