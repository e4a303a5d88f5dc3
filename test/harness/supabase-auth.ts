/**
 * A database made a Supabase project's: the `auth` schema of test/fixtures/supabase-auth.sql,
 * owned by the auth service's role, with the platform's role granted what Supabase grants its
 * `postgres` on it; and people in it, signing in by email, Google, MFA and SSO.
 */
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import type { Pool } from "../../lib/db/pool.js";
import { adminConnection } from "./postgres-admin.js";

/** The auth service's role (Supabase's supabase_auth_admin): cluster-wide, so made once and shared by every test file. */
export const AUTH_ADMIN_ROLE = "gap_test_auth_admin";
const FIXTURE = fileURLToPath(new URL("../fixtures/supabase-auth.sql", import.meta.url));

/** Makes the database at `superuserDatabaseUrl` a Supabase project's, granting `platformRole` its access to Auth. */
export async function withSupabaseAuth(superuserDatabaseUrl: string, platformRole: string): Promise<void> {
  const sql = adminConnection(superuserDatabaseUrl);
  try {
    // Files running at once may both try: the loser's duplicate is no failure.
    await sql`do $$ begin create role gap_test_auth_admin nologin; exception when duplicate_object or unique_violation then null; end $$`;
    await sql.unsafe(await readFile(FIXTURE, "utf8"));
    await sql`grant usage on schema auth to ${sql(platformRole)}`;
    await sql`grant all on all tables in schema auth to ${sql(platformRole)}`;
    await sql`grant all on all sequences in schema auth to ${sql(platformRole)}`;
  } finally {
    await sql.end();
  }
}

/** A deterministic uuid of `text`, as the demo's ids are made. */
const uuidOf = (text: string) => {
  const hex = createHash("md5").update(text).digest("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
};

export interface AuthSeed {
  users: number;
  /** Identities per provider, as the manifest must record them. */
  identities: { email: number; google: number };
}

/**
 * An auth.users row (same id) and an email identity for each of the platform's users, a Google
 * identity for every third, a TOTP factor for the first, one SSO provider with its domain and
 * SAML settings; and sessions, refresh tokens and audit entries, which a restore must not carry.
 */
export async function seedSupabaseAuth(sql: Pool): Promise<AuthSeed> {
  const people = await sql<{ id: string; email: string }[]>`select id::text as id, email from public.users order by id`;
  await sql.begin(async (tx) => {
    for (const [index, person] of people.entries()) {
      await tx`
        insert into auth.users (instance_id, id, aud, role, email, encrypted_password, email_confirmed_at, raw_app_meta_data, raw_user_meta_data, created_at, updated_at)
        values ('00000000-0000-0000-0000-000000000000', ${person.id}, 'authenticated', 'authenticated', ${person.email}, ${`$2a$10$${"x".repeat(53)}`},
          now() - interval '30 days', ${sql.json({ provider: "email", providers: ["email"] })}, ${sql.json({})}, now() - interval '30 days', now())`;
      await tx`
        insert into auth.identities (provider_id, user_id, identity_data, provider, created_at, updated_at)
        values (${person.id}, ${person.id}, ${sql.json({ sub: person.id, email: person.email.toUpperCase() })}, 'email', now(), now())`;
      if (index % 3 === 0) {
        await tx`
          insert into auth.identities (provider_id, user_id, identity_data, provider, created_at, updated_at)
          values (${`google-${index}`}, ${person.id}, ${sql.json({ sub: `google-${index}`, email: person.email })}, 'google', now(), now())`;
      }
      const session = uuidOf(`session:${person.id}`);
      await tx`insert into auth.sessions (id, user_id, created_at, aal) values (${session}, ${person.id}, now(), 'aal1')`;
      await tx`insert into auth.refresh_tokens (token, user_id, revoked, created_at, session_id) values (${`rt-${index}`}, ${person.id}, false, now(), ${session})`;
      await tx`insert into auth.audit_log_entries (id, payload, created_at) values (${uuidOf(`audit:${person.id}`)}, ${sql.json({ action: "login" })}, now())`;
    }
    const first = people[0];
    if (first) {
      await tx`
        insert into auth.mfa_factors (id, user_id, friendly_name, factor_type, status, created_at, updated_at, secret)
        values (${uuidOf(`factor:${first.id}`)}, ${first.id}, 'phone app', 'totp', 'verified', now(), now(), 'JBSWY3DPEHPK3PXP')`;
    }
    const provider = uuidOf("sso:acme");
    await tx`insert into auth.sso_providers (id, resource_id, created_at) values (${provider}, 'acme', now())`;
    await tx`insert into auth.sso_domains (id, sso_provider_id, domain, created_at) values (${uuidOf("sso-domain:acme")}, ${provider}, 'acme.example', now())`;
    await tx`
      insert into auth.saml_providers (id, sso_provider_id, entity_id, metadata_xml, created_at)
      values (${uuidOf("saml:acme")}, ${provider}, 'https://idp.acme.example/saml', '<EntityDescriptor/>', now())`;
  });
  const google = people.filter((_, index) => index % 3 === 0).length;
  return { users: people.length, identities: { email: people.length, google } };
}
