/** Starts the local server on a free port for a test file. */
import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import { fileURLToPath } from "node:url";
import { createLocalServer } from "../../lib/server/server.js";

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

export interface AnswerFrom {
  status: number;
  headers: Headers;
  text: string;
}

/**
 * A request sent from `localAddress` (any 127.x.y.z on Linux loopback): the peer address the
 * server sees, which no header can change. For limits judged by the client's address.
 */
export async function requestFrom(
  localAddress: string,
  url: string,
  { method = "GET", headers = {}, body }: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<AnswerFrom> {
  const { request } = await import("node:http");
  return new Promise((resolve, reject) => {
    const outgoing = request(url, { method, headers, localAddress }, (incoming) => {
      const chunks: Buffer[] = [];
      incoming.on("data", (chunk: Buffer) => chunks.push(chunk));
      incoming.on("end", () => {
        const answered = new Headers();
        for (let i = 0; i < incoming.rawHeaders.length; i += 2) answered.append(incoming.rawHeaders[i] ?? "", incoming.rawHeaders[i + 1] ?? "");
        resolve({ status: incoming.statusCode ?? 0, headers: answered, text: Buffer.concat(chunks).toString("utf8") });
      });
    });
    outgoing.on("error", reject);
    outgoing.end(body);
  });
}
