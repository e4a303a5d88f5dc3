/** PgHero's kill with guard rails: the session shown first, the asker and the server's own processes refused. */
import postgres from "postgres";
import { afterAll, describe, expect, inject, it } from "vitest";
import { signalSession } from "../../functions/session-signal.js";
import { SessionSignalError } from "../../lib/db/errors.js";
import { directDb, type Pool } from "../../lib/db/pool.js";
import { TEST_DATABASE_URL } from "../harness/file-database.js";

const clients: Pool[] = [];
function client(applicationName: string, url = TEST_DATABASE_URL): Pool {
  const sql = postgres(url, { max: 1, onnotice: () => undefined, connection: { application_name: applicationName } });
  clients.push(sql);
  return sql;
}
afterAll(() => Promise.all(clients.map((sql) => sql.end({ timeout: 1 }))));

async function pidOf(sql: Pool): Promise<number> {
  const [row] = await sql<{ pid: number }[]>`select pg_backend_pid() as pid`;
  if (!row) throw new Error("no pid");
  return row.pid;
}

async function refusal(run: Promise<unknown>): Promise<SessionSignalError> {
  const error = await run.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SessionSignalError);
  return error as SessionSignalError;
}

describe("signalSession", () => {
  it("shows the session and sends nothing until confirmed; then cancel stops the query and keeps the session", async () => {
    const victim = client("signal-victim");
    const pid = await pidOf(victim);
    const sleeping = victim`select pg_sleep(30)`.then(
      () => undefined,
      (e: { code?: string }) => e.code,
    );
    await new Promise((resolve) => setTimeout(resolve, 200));

    const preview = await signalSession(directDb(), pid, "cancel", { confirmed: false });
    expect(preview).toEqual({
      sent: false,
      session: {
        pid,
        database: expect.any(String),
        role: expect.any(String),
        application: "signal-victim",
        backendType: "client backend",
        state: "active",
        query: "select pg_sleep(***)",
      },
    });
    const [still] = await directDb()`select state from pg_stat_activity where pid = ${pid}`;
    expect(still?.state).toBe("active");

    expect(await signalSession(directDb(), pid, "cancel", { confirmed: true })).toMatchObject({ sent: true });
    expect(await sleeping).toBe("57014");
    expect(await pidOf(victim)).toBe(pid);
  });

  it("terminate ends the session", async () => {
    const victim = client("signal-terminated");
    const pid = await pidOf(victim);
    expect(await signalSession(directDb(), pid, "terminate", { confirmed: true })).toMatchObject({ sent: true, session: { application: "signal-terminated" } });
    const rows = await directDb()`select 1 from pg_stat_activity where pid = ${pid}`;
    expect(rows).toHaveLength(0);
  });

  it("refuses the asking session itself, the server's own processes and a pid nobody has", async () => {
    // A pool of one connection: the session that asks is the one named.
    const asker = client("signal-asker");
    const own = await pidOf(asker);
    const self = await refusal(signalSession(asker, own, "terminate", { confirmed: true }));
    expect(self).toMatchObject({ reason: "refused", message: `pid ${own} is this inspecting session itself; refusing to terminate it` });
    expect(await pidOf(asker)).toBe(own);

    const [checkpointer] = await directDb()<{ pid: number }[]>`select pid from pg_stat_activity where backend_type = 'checkpointer'`;
    const server = await refusal(signalSession(directDb(), checkpointer?.pid ?? 0, "terminate", { confirmed: true }));
    expect(server.message).toBe(`pid ${checkpointer?.pid} is the server's checkpointer, not a client session; refusing to terminate it`);

    const missing = await refusal(signalSession(directDb(), 2147483647, "cancel", { confirmed: false }));
    expect(missing).toMatchObject({ reason: "not-found", message: "no session with pid 2147483647 on the server" });
  });

  it("refuses, with the server's reason, a role that may not signal that session", async () => {
    const role = `gap_signal_${process.pid}`;
    await directDb()`drop role if exists ${directDb()(role)}`;
    await directDb().unsafe(`create role ${role} login password 'signal-test-password'`);
    // What any role that inspects needs: the function that shows a query without its literals.
    await directDb()`grant usage on schema ops to ${directDb()(role)}`;
    try {
      const url = new URL(TEST_DATABASE_URL);
      url.username = role;
      url.password = "signal-test-password";
      const plain = client("signal-plain", url.toString());
      // The test role's session: a superuser's, or in the owner project the managed owner's.
      const victim = client("signal-victim");
      const pid = await pidOf(victim);
      const denied = await refusal(signalSession(plain, pid, "cancel", { confirmed: true }));
      expect(denied.message).toMatch(
        inject("superuser")
          ? new RegExp(`^not allowed to cancel session ${pid}: must be a superuser to cancel superuser query`)
          : new RegExp(`^not allowed to cancel session ${pid}: must be a member of the role whose query is being canceled or member of pg_signal_backend`),
      );
      expect(await pidOf(victim)).toBe(pid);
      await plain.end();
    } finally {
      await directDb()`revoke usage on schema ops from ${directDb()(role)}`;
      await directDb()`drop role ${directDb()(role)}`;
    }
  });
});
