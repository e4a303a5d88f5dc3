/** A real blocked session: one connection holds a table lock, another waits for it. */
import postgres from "postgres";
import { TEST_DATABASE_URL } from "./file-database.js";

export interface BlockedSession {
  /** Ends the holder's transaction, lets the waiter finish and closes both connections. */
  release(): Promise<void>;
}

/** Creates `table`, locks it in one transaction and starts a read of it in another, waiting `settleMs`. */
export async function blockedSession(table: string, { settleMs = 300, names = ["holder", "waiter"] } = {}): Promise<BlockedSession> {
  const [holderName, waiterName] = names;
  const holder = postgres(TEST_DATABASE_URL, { max: 1, onnotice: () => undefined, connection: { application_name: holderName ?? "holder" } });
  const waiter = postgres(TEST_DATABASE_URL, { max: 1, onnotice: () => undefined, connection: { application_name: waiterName ?? "waiter" } });
  await holder`create table ${holder(table)} (id int primary key)`;
  let unlock: () => void = () => undefined;
  let locked: () => void = () => undefined;
  const isLocked = new Promise<void>((resolve) => (locked = resolve));
  const held = holder.begin(async (tx) => {
    await tx`lock table ${tx(table)} in access exclusive mode`;
    locked();
    await new Promise<void>((resolve) => (unlock = resolve));
  });
  await isLocked;
  // The waiter's connection is opened first: under load its startup and authentication would
  // otherwise eat into the settle time, and the wait would be shorter than asked.
  await waiter`select 1`;
  // postgres.js sends a query only when it is awaited or executed.
  const waiting = waiter`select count(*) from ${waiter(table)}`.execute();
  await new Promise((resolve) => setTimeout(resolve, settleMs));
  return {
    release: async () => {
      unlock();
      await held;
      await waiting;
      await Promise.all([holder.end(), waiter.end()]);
    },
  };
}
