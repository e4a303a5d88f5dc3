/**
 * Agents as their callers see them: only agents of organizations the caller belongs to.
 * The lookup is cache-aside: one cache round trip reads both the agent and the caller's
 * organizations, so a hit makes no database query at all.
 */
import type { Caller } from "../lib/auth/verify.js";
import { cacheStore } from "../lib/cache/store.js";
import { failOpen, type FailOpenCache } from "../lib/cache/fail-open.js";
import { ABSENT, readThrough, type ReadThrough } from "../lib/cache/read-through.js";
import { agentsPage, agentWithWorkflows, updateAgent, type AgentChanges, type AgentListItem } from "../lib/data/agents.js";
import type { PageWindow } from "../lib/data/keyset.js";
import { memberOrganizationIds } from "../lib/data/members.js";
import { bounded } from "../lib/db/deadline.js";
import { requestDb } from "../lib/db/pool.js";
import { agentCacheEvents } from "../lib/metrics/registry.js";

/** How long a membership change may take to reach cached lookups. */
const MEMBERSHIP_TTL_SECONDS = 60;

const agentKey = (agentId: string) => `agent:v1:${agentId}`;
const membershipKey = (userId: string) => `member-orgs:v1:${userId}`;

interface AgentCaches {
  cache: FailOpenCache;
  agents: ReadThrough;
  memberships: ReadThrough;
}

let caches: AgentCaches | undefined;

function agentCaches(): AgentCaches {
  if (!caches) {
    const cache = failOpen(cacheStore());
    caches = { cache, agents: readThrough(cache), memberships: readThrough(cache, { ttlSeconds: MEMBERSHIP_TTL_SECONDS, jitterRatio: 0 }) };
  }
  return caches;
}

/** Forgets the instance's caches (in-flight loads included), so the next lookup follows the configuration again. */
export function resetAgentCaches(): void {
  caches = undefined;
}

/** A cache entry is `<organization id> <agent JSON>`: tenancy is checked without parsing the JSON. */
const ORG_ID_LENGTH = 36;

async function loadAgent(agentId: string): Promise<string | undefined> {
  const [row] = await bounded(agentWithWorkflows(requestDb(), agentId));
  return row ? `${row.organization_id} ${row.json}` : undefined;
}

async function loadMemberships(userId: string): Promise<string> {
  const rows = await bounded(memberOrganizationIds(requestDb(), userId));
  return rows.map((row) => row.organization_id).join(",");
}

export interface AgentLookup {
  /** The agent with its workflows, as JSON text. */
  json: string;
  cache: "hit" | "miss";
}

/** The agent, if it exists and belongs to one of the caller's organizations. */
export async function agentForCaller(caller: Caller, agentId: string): Promise<AgentLookup | undefined> {
  const { cache, agents, memberships } = agentCaches();
  const [cachedAgent, cachedMemberships] = await cache.mget([agentKey(agentId), membershipKey(caller.userId)]);
  const [entry, organizations] =
    cachedAgent && cachedMemberships
      ? [cachedAgent, cachedMemberships]
      : await Promise.all([
          cachedAgent ?? agents.load(agentKey(agentId), () => loadAgent(agentId)),
          cachedMemberships ?? memberships.load(membershipKey(caller.userId), () => loadMemberships(caller.userId)),
        ]);
  agentCacheEvents.inc(cachedAgent ? (cachedAgent === ABSENT ? "negative_hit" : "hit") : "miss");
  if (entry === ABSENT) return undefined;
  const organizationId = entry.slice(0, ORG_ID_LENGTH);
  if (!organizations.split(",").includes(organizationId)) return undefined;
  return { json: entry.slice(ORG_ID_LENGTH + 1), cache: cachedAgent ? "hit" : "miss" };
}

/** Applies the changes to the caller's agent and drops its cache entry before answering; undefined if not the caller's. */
export async function updateAgentForCaller(caller: Caller, agentId: string, changes: AgentChanges): Promise<string | undefined> {
  const [row] = await bounded(updateAgent(requestDb(), caller.userId, agentId, changes));
  if (!row) return undefined;
  await agentCaches().agents.invalidate(agentKey(agentId));
  return row.json;
}

/** The caller's organizations' agents, newest first: the window's rows. */
export async function agentsForCaller(caller: Caller, { status, window }: { status?: string; window: PageWindow }): Promise<AgentListItem[]> {
  return bounded(agentsPage(requestDb(), caller.userId, { status, window }));
}
