/** Which organizations a user belongs to. */
import type postgres from "postgres";
import type { Sql } from "../db/pool.js";

export function memberOrganizationIds(sql: Sql, userId: string): postgres.PendingQuery<Array<{ organization_id: string }>> {
  return sql`
    select organization_id as organization_id
    from organization_members
    where user_id = ${userId}
    order by organization_id`;
}
