/** Demo data and callers for endpoint tests. */
import { DEMO_USER, seedDemoData, type DemoSizes } from "../../scripts/demo/data.js";
import { directDb } from "../../lib/db/pool.js";
import { useConfig } from "./config.js";
import { TEST_JWT_SECRET, tokenFor } from "./tokens.js";

export const SMALL_DEMO: DemoSizes = { organizations: 3, usersPerOrganization: 4, agents: 12, conversations: 12, messages: 240 };

export interface DemoCallers {
  /** Owner of organization 1, member of organization 2. */
  demo: { userId: string; token: string };
  /** Member of organization 3 only. */
  outsider: { userId: string; token: string };
  organizationIds: string[];
}

export async function seededDemo(sizes: DemoSizes = SMALL_DEMO): Promise<DemoCallers> {
  await useConfig({ SUPABASE_JWT_SECRET: TEST_JWT_SECRET });
  await seedDemoData(directDb(), sizes, { reset: true });
  const organizations = await directDb()`select id from organizations order by slug`;
  const [outsider] = await directDb()`
    select user_id from organization_members
    where organization_id = md5('org:3')::uuid and user_id <> ${DEMO_USER.id}
    order by user_id limit 1`;
  return {
    demo: { userId: DEMO_USER.id, token: await tokenFor(DEMO_USER.id) },
    outsider: { userId: outsider?.user_id, token: await tokenFor(outsider?.user_id) },
    organizationIds: organizations.map((o) => o.id),
  };
}
