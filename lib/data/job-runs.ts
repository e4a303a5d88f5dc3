/**
 * The lifecycle every job the worker runs shares (ops.backups, ops.dr_drills: one row per run):
 * recorded as `running` here and now, or as `requested` for the worker, which claims it; one run
 * per slot (the cron's day) unless it failed, which frees the slot for a retry; marked failed,
 * or failed undelivered when QStash gives up. A third job needs a table with these columns
 * (id, status, started_at, finished_at, error, slot and the partial unique index on slot).
 */
import type { Sql } from "../db/pool.js";

/** The tables of the worker's jobs. */
export type RunTable = "ops.backups" | "ops.dr_drills";

export type RecordedRun = { id: string } | { heldBy: string };

export interface RunRecord {
  /** A run starting here and now; with a slot, none while a run that has not failed holds it (`heldBy` names that run). */
  started(sql: Sql, slot?: string): Promise<RecordedRun>;
  /** A run handed to the worker: it waits as `requested` until the worker claims it (one per slot, as above). */
  requested(sql: Sql, slot?: string): Promise<RecordedRun>;
  /** Claims a requested run (or a failed one, which a redelivery retries): true when this caller now runs it. */
  claimed(sql: Sql, id: string): Promise<boolean>;
  /** Marks run `id` failed with `error`. */
  failed(sql: Sql, id: string, error: string): Promise<void>;
  /** Marks a run QStash gave up delivering as failed, unless it got further: true when it was still waiting or running. */
  undelivered(sql: Sql, id: string, error: string): Promise<boolean>;
}

/** The lifecycle's statements over `table`. */
export function runRecord(table: RunTable): RunRecord {
  const recorded = async (sql: Sql, status: "running" | "requested", slot: string | undefined): Promise<RecordedRun> => {
    // A requested run has not started: its started_at is the table's default (none for a backup, the request time for a drill).
    const values =
      status === "running"
        ? sql`(started_at, status, slot) values (now(), 'running', ${slot ?? null})`
        : sql`(status, slot) values ('requested', ${slot ?? null})`;
    const [row] = await sql<{ id: string }[]>`
      insert into ${sql(table)} ${values}
      on conflict (slot) where status <> 'failed' do nothing
      returning id::text as id`;
    if (row) return row;
    const [holder] = await sql<{ id: string }[]>`select id::text as id from ${sql(table)} where slot = ${slot ?? null} and status <> 'failed'`;
    return { heldBy: holder?.id ?? "unknown" };
  };
  return {
    started: (sql, slot) => recorded(sql, "running", slot),
    requested: (sql, slot) => recorded(sql, "requested", slot),
    claimed: async (sql, id) => {
      const rows = await sql`
        update ${sql(table)} set status = 'running', started_at = now(), finished_at = null, error = null
        where id = ${id} and status in ('requested', 'failed')
        returning id`;
      return rows.length === 1;
    },
    failed: async (sql, id, error) => {
      await sql`update ${sql(table)} set status = 'failed', finished_at = now(), error = ${error} where id = ${id}`;
    },
    undelivered: async (sql, id, error) => {
      const rows = await sql`
        update ${sql(table)} set status = 'failed', finished_at = now(), error = ${error}
        where id = ${id} and status in ('requested', 'running')
        returning id`;
      return rows.length === 1;
    },
  };
}

export const backupRuns = runRecord("ops.backups");
export const drillRuns = runRecord("ops.dr_drills");
