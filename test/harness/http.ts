/** Starts the local server on a free port for a test file. */
import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import { fileURLToPath } from "node:url";
import { createLocalServer } from "../../lib/local/server.js";

export const API_DIR = fileURLToPath(new URL("../../api/", import.meta.url));
const PUBLIC_DIR = fileURLToPath(new URL("../../public/", import.meta.url));
const VERCEL_JSON = fileURLToPath(new URL("../../vercel.json", import.meta.url));

export interface RunningServer {
  baseUrl: string;
  close(): Promise<void>;
}

export async function serve(apiDir: string = API_DIR): Promise<RunningServer> {
  const server: Server = await createLocalServer({ apiDir, publicDir: PUBLIC_DIR, vercelConfig: VERCEL_JSON });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
