/** The dashboard's sessions (ops.dashboard_sessions): opened at sign-in, honoured while open, ended at sign-out. */
import type { Sql } from "../db/pool.js";

export type SessionEnd = "sign-out" | "sign-out-everywhere" | "restore";

/** Records a session that runs until `expiresAt`; sessions expired a day ago are dropped on the way. */
export async function openSession(sql: Sql, id: string, expiresAt: Date): Promise<void> {
  await sql`delete from ops.dashboard_sessions where expires_at < now() - interval '1 day'`;
  await sql`insert into ops.dashboard_sessions (id, expires_at) values (${id}, ${expiresAt})`;
}

/** Whether session `id` was opened, has not ended and has not expired. */
export async function sessionIsOpen(sql: Sql, id: string): Promise<boolean> {
  const [row] = await sql<Array<{ open: boolean }>>`
    select true as open from ops.dashboard_sessions
    where id = ${id} and ended_at is null and expires_at > now()`;
  return row?.open === true;
}

/** Ends session `id`; whether it was open. */
export async function endSession(sql: Sql, id: string, by: SessionEnd = "sign-out"): Promise<boolean> {
  const ended = await sql`
    update ops.dashboard_sessions set ended_at = now(), ended_by = ${by}
    where id = ${id} and ended_at is null and expires_at > now()`;
  return ended.count > 0;
}

/** Ends every open session; how many there were. */
export async function endAllSessions(sql: Sql, by: SessionEnd = "sign-out-everywhere"): Promise<number> {
  const ended = await sql`
    update ops.dashboard_sessions set ended_at = now(), ended_by = ${by}
    where ended_at is null and expires_at > now()`;
  return ended.count;
}
