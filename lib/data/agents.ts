/**
 * Agent reads and writes. The agent and its workflows come back as one JSON text, built
 * by PostgreSQL in one round trip, ready to cache and to send as is.
 */
import type postgres from "postgres";
import type { Sql } from "../db/pool.js";
import { keysetAfter, type PageWindow } from "./keyset.js";
import { callerOrganizations } from "./members.js";

/** The JSON object of agent `a` with its workflows in position order. */
function agentJson(sql: Sql): postgres.PendingQuery<postgres.Row[]> {
  return sql`
    json_build_object(
      'id', a.id,
      'organization_id', a.organization_id,
      'name', a.name,
      'status', a.status,
      'model', a.model,
      'system_prompt', a.system_prompt,
      'config', a.config,
      'created_at', api_timestamp(a.created_at),
      'updated_at', api_timestamp(a.updated_at),
      'workflows', coalesce((
        select json_agg(json_build_object(
            'id', w.id,
            'name', w.name,
            'position', w.position,
            'steps', w.steps,
            'created_at', api_timestamp(w.created_at))
          order by w.position)
        from agent_workflows w
        where w.agent_id = a.id), '[]'::json)
    )::text`;
}

/** The agent with its workflows, whoever owns it (tenancy is the caller's check), or undefined. */
export function agentWithWorkflows(sql: Sql, agentId: string): postgres.PendingQuery<Array<{ organization_id: string; json: string }>> {
  return sql`
    select
      a.organization_id as organization_id,
      ${agentJson(sql)} as json
    from agents a
    where a.id = ${agentId}`;
}

export interface AgentChanges {
  name?: string;
  status?: string;
  model?: string;
  system_prompt?: string;
  config?: Record<string, unknown>;
}

/** Applies `changes` to an agent of one of the user's organizations; returns it as JSON, or nothing. */
export function updateAgent(
  sql: Sql,
  userId: string,
  agentId: string,
  changes: AgentChanges,
): postgres.PendingQuery<Array<{ organization_id: string; json: string }>> {
  const values: Record<string, postgres.ParameterOrJSON<never>> = {};
  for (const [column, value] of Object.entries(changes)) {
    values[column] = column === "config" ? sql.json(value as postgres.JSONValue) : (value as string);
  }
  return sql`
    with a as (
      update agents
      set ${sql(values, Object.keys(changes))}
      where id = ${agentId}
        and organization_id in ${callerOrganizations(sql, userId)}
      returning *
    )
    select
      a.organization_id as organization_id,
      ${agentJson(sql)} as json
    from a`;
}

export interface AgentListItem {
  id: string;
  organization_id: string;
  name: string;
  status: string;
  model: string;
  created_at: string;
  updated_at: string;
}

/** Agents of the user's organizations, newest first: the window's rows. */
export function agentsPage(sql: Sql, userId: string, { status, window }: { status?: string; window: PageWindow }): postgres.PendingQuery<AgentListItem[]> {
  return sql<AgentListItem[]>`
    select
      a.id as id,
      a.organization_id as organization_id,
      a.name as name,
      a.status as status,
      a.model as model,
      api_timestamp(a.created_at) as created_at,
      api_timestamp(a.updated_at) as updated_at
    from agents a
    where a.organization_id in ${callerOrganizations(sql, userId)}
      ${status ? sql`and a.status = ${status}` : sql``}
      ${keysetAfter(sql, "a", window.after)}
    order by a.created_at desc, a.id desc
    limit ${window.limit}`;
}
