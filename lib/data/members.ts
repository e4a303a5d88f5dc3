/** Which organizations a user belongs to: the tenancy of every read and write for a caller. */
import type postgres from "postgres";
import type { Sql } from "../db/pool.js";

export function memberOrganizationIds(sql: Sql, userId: string): postgres.PendingQuery<Array<{ organization_id: string }>> {
  return sql`
    select organization_id as organization_id
    from ${callerOrganizations(sql, userId)} member
    order by organization_id`;
}

/** The organizations `userId` belongs to, as a subquery every caller's query filters by. */
export function callerOrganizations(sql: Sql, userId: string): postgres.PendingQuery<postgres.Row[]> {
  return sql`(select organization_id from organization_members where user_id = ${userId})`;
}
