/**
 * QStash, which cannot run here: a fake of its publish endpoint that records exactly what our
 * code sends, and the signature QStash puts on a delivery (a JWT over the destination URL and
 * the body's SHA-256), made as QStash makes it, for the receiving side.
 */
import { createHash, randomUUID } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { SignJWT } from "jose";

export interface PublishRequest {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export interface FakeQstash {
  url: string;
  published: PublishRequest[];
  /** The status publish answers with from now on (QStash's own errors are JSON with `error`). */
  answer(status: number): void;
  close(): Promise<void>;
}

export async function fakeQstash(): Promise<FakeQstash> {
  const published: PublishRequest[] = [];
  let status = 201;
  const server: Server = createServer(async (request, response) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    published.push({ method: request.method ?? "", path: request.url ?? "", headers: request.headers, body: Buffer.concat(chunks).toString("utf8") });
    const reply = status < 300 ? { messageId: `msg_${published.length}` } : { error: "quota exceeded" };
    response.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(reply));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    published,
    answer: (next) => {
      status = next;
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The Upstash-Signature QStash sends with a delivery of `body` to `url`. */
export async function qstashSignature(signingKey: string, url: string, body: string): Promise<string> {
  const bodyHash = createHash("sha256").update(body).digest("base64url");
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ body: bodyHash })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setIssuer("Upstash")
    .setSubject(url)
    .setIssuedAt(now)
    .setNotBefore(now)
    .setExpirationTime(now + 300)
    .setJti(`jwt_${randomUUID()}`)
    .sign(new TextEncoder().encode(signingKey));
}
