import { describe, expect, it } from "vitest";
import { DEMO_USER, DemoDataError, seedDemoData, type DemoSizes } from "../../scripts/demo/data.js";
import { directDb } from "../../lib/db/pool.js";

const SIZES: DemoSizes = { organizations: 3, usersPerOrganization: 4, agents: 7, conversations: 11, messages: 250 };

async function counts() {
  const [row] = await directDb()`
    select
      (select count(*)::int from organizations) as organizations,
      (select count(*)::int from users) as users,
      (select count(*)::int from organization_members) as members,
      (select count(*)::int from agents) as agents,
      (select count(*)::int from agent_workflows) as workflows,
      (select count(*)::int from conversations) as conversations,
      (select count(*)::int from conversation_messages) as messages,
      (select count(*)::int from knowledge_base_items) as kb_items,
      (select count(*)::int from crm_accounts) as crm_accounts,
      (select count(*)::int from analytics_events) as analytics_events`;
  return row;
}

/** A digest of every message row, ids and times included. */
async function messagesDigest(): Promise<string> {
  const [row] = await directDb()`
    select md5(string_agg(id::text || conversation_id || role || content || metadata::text || created_at::text, ',' order by id)) as digest
    from conversation_messages`;
  return row?.digest;
}

describe("seedDemoData", () => {
  it("fills an empty database to the sizes asked", async () => {
    const progress: string[] = [];
    await seedDemoData(directDb(), SIZES, { onProgress: ({ table, done }) => progress.push(`${table}:${done}`) });
    expect(await counts()).toEqual({
      organizations: 3,
      users: 12,
      members: 13,
      agents: 7,
      workflows: 21,
      conversations: 11,
      messages: 250,
      kb_items: 45,
      crm_accounts: 3,
      analytics_events: 22,
    });
    expect(progress).toContain("conversation_messages:250");
  });

  it("makes the demo user a member of two organizations, with the id the demo token names", async () => {
    const memberships = await directDb()`
      select o.slug, m.role from organization_members m join organizations o on o.id = m.organization_id
      where m.user_id = ${DEMO_USER.id} order by o.slug`;
    expect(memberships.map((m) => `${m.slug}:${m.role}`)).toEqual(["demo-org-1:owner", "demo-org-2:member"]);
  });

  it("keeps each agent's conversations and workflows inside the agent's organization", async () => {
    const [mismatch] = await directDb()`
      select count(*)::int as n from conversations c join agents a on a.id = c.agent_id
      where a.organization_id <> c.organization_id`;
    expect(mismatch?.n).toBe(0);
    const [ordered] = await directDb()`
      select count(*)::int as n from (
        select agent_id, array_agg(position order by position) as positions from agent_workflows group by agent_id
      ) w where positions <> array[0, 1, 2]`;
    expect(ordered?.n).toBe(0);
  });

  it("refuses to seed over existing data without --reset", async () => {
    await expect(seedDemoData(directDb(), SIZES)).rejects.toThrow(DemoDataError);
    expect((await counts())?.messages).toBe(250);
  });

  it("reproduces identical rows on reset", async () => {
    const first = await messagesDigest();
    await seedDemoData(directDb(), SIZES, { reset: true });
    expect(await messagesDigest()).toBe(first);
    expect((await counts())?.messages).toBe(250);
  });

  it("spreads messages over conversations, alternating user and assistant in time order", async () => {
    const rows = await directDb()`
      select role from conversation_messages
      where conversation_id = (select id from conversations order by created_at limit 1)
      order by created_at`;
    expect(rows.length).toBeGreaterThan(20);
    expect(rows.slice(0, 4).map((r) => r.role)).toEqual(["user", "assistant", "user", "assistant"]);
  });

  it("rejects sizes below one", async () => {
    await expect(seedDemoData(directDb(), { ...SIZES, agents: 0 }, { reset: true })).rejects.toThrow(/agents must be a whole number/);
  });
});
