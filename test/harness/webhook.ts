/** A real HTTP endpoint standing in for Slack: records every request, answers as told. */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { handled } from "./net.js";

export interface ReceivedRequest {
  method: string;
  path: string;
  contentType: string | undefined;
  body: unknown;
}

export interface WebhookReceiver {
  /** A URL with a secret-looking path, as a Slack hook has. */
  url: string;
  received: ReceivedRequest[];
  /** The status the next requests get, and how long they wait for it. */
  answer(status: number, delayMs?: number): void;
  /** The next `count` requests are refused with `status`; those after get the standing answer. */
  refuseNext(count: number, status?: number): void;
  /** The requests answered 2xx. */
  accepted(): ReceivedRequest[];
  close(): Promise<void>;
}

export async function webhookReceiver(): Promise<WebhookReceiver> {
  const received: ReceivedRequest[] = [];
  // The status each request got, beside it (a test may empty `received` between its steps).
  const answered = new WeakMap<ReceivedRequest, number>();
  let status = 200;
  let delayMs = 0;
  let refusals: { count: number; status: number } = { count: 0, status: 503 };
  const server: Server = createServer(
    handled(async (request, response) => {
      const chunks: Buffer[] = [];
      for await (const chunk of request) chunks.push(chunk as Buffer);
      const text = Buffer.concat(chunks).toString("utf8");
      const entry: ReceivedRequest = {
        method: request.method ?? "",
        path: request.url ?? "",
        contentType: request.headers["content-type"],
        body: text ? JSON.parse(text) : null,
      };
      received.push(entry);
      const refused = refusals.count > 0;
      if (refused) refusals = { ...refusals, count: refusals.count - 1 };
      const now = refused ? refusals.status : status;
      answered.set(entry, now);
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      if (!response.destroyed) response.writeHead(now, { "content-type": "text/plain" }).end(now < 300 ? "ok" : "no");
    }),
  );
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/services/T0000/B0000/hook-secret-0123456789`,
    received,
    answer(nextStatus, nextDelayMs = 0) {
      status = nextStatus;
      delayMs = nextDelayMs;
    },
    refuseNext(count, refusal = 503) {
      refusals = { count, status: refusal };
    },
    accepted: () => received.filter((entry) => (answered.get(entry) ?? 500) < 300),
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
