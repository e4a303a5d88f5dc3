/**
 * Agents as their callers see them: only agents of organizations the caller belongs to.
 * The lookup is cache-aside: one cache round trip reads both the agent and the caller's
 * organizations, so a hit makes no database query at all. With Upstash, an in-process first
 * level keeps hot entries for CACHE_L1_TTL_MS (1 s) in front of it, so a hot lookup makes no
 * Upstash command either; another instance's write shows within that time, this one's at once.
 */
import type { Caller } from "../lib/auth/verify.js";
import { config } from "../lib/config.js";
import { firstLevel, type FirstLevel } from "../lib/cache/first-level.js";
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
  /** The first level, in front of a shared (Upstash) cache only: the memory store is in-process already. */
  local: FirstLevel | undefined;
}

let caches: AgentCaches | undefined;

function agentCaches(): AgentCaches {
  if (!caches) {
    const store = cacheStore();
    const cache = failOpen(store);
    const ttlMs = config().cacheL1TtlMs;
    caches = {
      cache,
      agents: readThrough(cache),
      memberships: readThrough(cache, { ttlSeconds: MEMBERSHIP_TTL_SECONDS, jitterRatio: 0 }),
      local: store.driver === "upstash" && ttlMs > 0 ? firstLevel({ ttlMs }) : undefined,
    };
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

/** The values of `keys` from the first level, then the shared cache for those it lacks (one round trip); what the shared cache had is kept locally. */
async function cachedValues(caches: AgentCaches, keys: string[]): Promise<Array<string | null>> {
  const { cache, local } = caches;
  const generation = local?.generation ?? 0;
  const values = keys.map((key) => local?.get(key) ?? null);
  const missing = keys.filter((_, i) => values[i] === null);
  if (!missing.length) return values;
  const fetched = await cache.mget(missing);
  let next = 0;
  return values.map((value, i) => {
    if (value !== null) return value;
    const shared = fetched[next++] ?? null;
    if (shared !== null) local?.keep(keys[i] ?? "", shared, generation);
    return shared;
  });
}

/** A cache miss loaded (once per instance and key at a time), kept locally too. */
async function loaded(caches: AgentCaches, through: ReadThrough, key: string, load: () => Promise<string | undefined>): Promise<string> {
  const generation = caches.local?.generation ?? 0;
  const value = await through.load(key, load);
  caches.local?.keep(key, value, generation);
  return value;
}

/** The agent, if it exists and belongs to one of the caller's organizations. */
export async function agentForCaller(caller: Caller, agentId: string): Promise<AgentLookup | undefined> {
  const caches = agentCaches();
  const [cachedAgent, cachedMemberships] = await cachedValues(caches, [agentKey(agentId), membershipKey(caller.userId)]);
  const [entry, organizations] =
    cachedAgent && cachedMemberships
      ? [cachedAgent, cachedMemberships]
      : await Promise.all([
          cachedAgent ?? loaded(caches, caches.agents, agentKey(agentId), () => loadAgent(agentId)),
          cachedMemberships ?? loaded(caches, caches.memberships, membershipKey(caller.userId), () => loadMemberships(caller.userId)),
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
  const caches = agentCaches();
  caches.local?.drop(agentKey(agentId));
  await caches.agents.invalidate(agentKey(agentId));
  return row.json;
}

/** The caller's organizations' agents, newest first: the window's rows. */
export async function agentsForCaller(caller: Caller, { status, window }: { status?: string; window: PageWindow }): Promise<AgentListItem[]> {
  return bounded(agentsPage(requestDb(), caller.userId, { status, window }));
}
