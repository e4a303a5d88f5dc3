/** The databases a test file makes beside its own, and when they are dropped. */
import { inject } from "vitest";
import { adminConnection, createDatabase, databaseUrl, dropDatabase, testDatabaseName } from "./postgres-admin.js";

/**
 * Whether a test's databases are dropped when it is done with them: on a server given by
 * TEST_DATABASE_URL, yes. The embedded server is deleted whole when the run ends, and every
 * DROP DATABASE forces a checkpoint the test waits for (0.3 s on average, about 90 per run).
 */
export function droppedWhenDone(): boolean {
  return !inject("embedded");
}

export interface ThrowawayDatabases {
  /** A new empty database on the server: its URL. */
  empty(): Promise<string>;
  /** Drops every database `empty` made (where droppedWhenDone says so), and closes the connection. */
  dropAll(): Promise<void>;
}

/** Empty databases on the server at `serverUrl` (restore targets), made as a test needs them and dropped together when its file ends. */
export function throwawayDatabases(serverUrl: string): ThrowawayDatabases {
  const admin = adminConnection(serverUrl);
  const made: string[] = [];
  return {
    async empty() {
      const name = testDatabaseName();
      await createDatabase(admin, name);
      made.push(name);
      return databaseUrl(serverUrl, name);
    },
    async dropAll() {
      if (droppedWhenDone()) for (const name of made) await dropDatabase(admin, name);
      await admin.end();
    },
  };
}
