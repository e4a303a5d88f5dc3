/**
 * QStash, which cannot run here: a fake of its publish endpoint that records exactly what our
 * code sends, and the signature QStash puts on a delivery (a JWT over the destination URL and
 * the body's SHA-256), made as QStash makes it, for the receiving side.
 */
import { createHash, randomUUID } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { SignJWT } from "jose";
import { handled } from "./net.js";

/** The installation's QStash settings in tests: its token and its two signing keys, shaped as QStash's console shows them. */
export const TEST_QSTASH: Readonly<{ token: string; currentSigningKey: string; nextSigningKey: string }> = {
  token: "qstash-token-0123456789",
  currentSigningKey: "sig_current_0123456789abcdefghij",
  nextSigningKey: "sig_next_0123456789abcdefghijklm",
};

export interface PublishRequest {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export interface FakeQstash {
  url: string;
  published: PublishRequest[];
  /** The status publish answers with from now on, and for an error its text (QStash's own errors are JSON with `error`). */
  answer(status: number, error?: string): void;
  /** Resolves once every message published so far has been delivered or given up on (with `delivering` only). */
  settled(): Promise<void>;
  close(): Promise<void>;
}

export interface DeliveringOptions {
  /** The key deliveries and failure reports are signed with (QStash's current signing key). */
  signingKey: string;
  /** The wait between tries, instead of QStash's backoff of seconds to minutes. */
  retryDelayMs: number;
}

const header = (request: PublishRequest, name: string): string | undefined => {
  const value = request.headers[name];
  return typeof value === "string" ? value : undefined;
};

export interface FailureReport {
  /** The destination QStash gave up on, and the message it published there. */
  destination: string;
  message: string;
  messageId: string;
  /** The destination's last answer: its status (0 when it never answered) and body. */
  status: number;
  answer: string;
  retried: number;
}

/** QStash's report to the failure callback that it gave up delivering a message, as it sends it. */
export function qstashFailureReport({ destination, message, messageId, status, answer, retried }: FailureReport): string {
  return JSON.stringify({
    status,
    header: { "Content-Type": ["application/json"] },
    body: Buffer.from(answer).toString("base64"),
    retried,
    maxRetries: retried,
    dlqId: `${Date.now()}-0`,
    sourceMessageId: messageId,
    topicName: "",
    endpointName: "",
    url: destination,
    method: "POST",
    sourceHeader: { "Content-Type": ["application/json"] },
    sourceBody: Buffer.from(message).toString("base64"),
    notBefore: Math.floor(Date.now() / 1000),
    createdAt: Date.now(),
    scheduleId: "",
    callerIP: "203.0.113.7",
  });
}

/**
 * Delivers a published message as QStash does: POSTs its body to the destination, signed for it,
 * trying again Upstash-Retries times while the answer is not 2xx, then reports to the
 * Upstash-Failure-Callback, signed for that URL.
 */
async function delivered(request: PublishRequest, destination: string, messageId: string, { signingKey, retryDelayMs }: DeliveringOptions): Promise<void> {
  const retries = Number(header(request, "upstash-retries") ?? 3);
  let last: { status: number; body: string } | undefined;
  for (let attempt = 0; attempt <= retries; attempt++) {
    if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, retryDelayMs));
    try {
      const response = await fetch(destination, {
        method: "POST",
        headers: {
          "content-type": header(request, "content-type") ?? "application/json",
          "upstash-signature": await qstashSignature(signingKey, destination, request.body),
          "upstash-message-id": messageId,
          "upstash-retried": String(attempt),
        },
        body: request.body,
      });
      last = { status: response.status, body: await response.text() };
      if (response.ok) return;
    } catch {
      last = undefined;
    }
  }
  const callback = header(request, "upstash-failure-callback");
  if (!callback) return;
  const report = qstashFailureReport({ destination, message: request.body, messageId, status: last?.status ?? 0, answer: last?.body ?? "", retried: retries });
  await fetch(callback, {
    method: "POST",
    headers: { "content-type": "application/json", "upstash-signature": await qstashSignature(signingKey, callback, report) },
    body: report,
  }).catch(() => undefined);
}

interface RecordingServer {
  url: string;
  /** Every request, in order, exactly as sent. */
  requests: PublishRequest[];
  close(): Promise<void>;
}

/** An HTTP server on a free port that records each request whole, then answers it as `answer` says (a body as JSON). */
async function recordingServer(answer: (request: PublishRequest) => { status: number; body?: unknown }): Promise<RecordingServer> {
  const requests: PublishRequest[] = [];
  const server: Server = createServer(
    handled(async (request, response) => {
      const chunks: Buffer[] = [];
      for await (const chunk of request) chunks.push(chunk as Buffer);
      const recorded = { method: request.method ?? "", path: request.url ?? "", headers: request.headers, body: Buffer.concat(chunks).toString("utf8") };
      requests.push(recorded);
      const { status, body } = answer(recorded);
      response.writeHead(status, body === undefined ? {} : { "content-type": "application/json" }).end(body === undefined ? "" : JSON.stringify(body));
    }),
  );
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * QStash's publish endpoint. With `delivering`, it also does what QStash does with a message it
 * took: a deduplication id seen before is answered 202 with the first message's id and not sent
 * again; any other message is delivered to its destination with retries, and reported to its
 * failure callback when every try failed.
 */
export async function fakeQstash(delivering?: DeliveringOptions): Promise<FakeQstash> {
  let status = 201;
  let errorText = "quota exceeded";
  const messageIds = new Map<string, string>();
  const deliveries: Array<Promise<void>> = [];
  const server = await recordingServer((request) => {
    if (status >= 300) return { status, body: { error: errorText } };
    const deduplicationId = header(request, "upstash-deduplication-id");
    const known = deduplicationId ? messageIds.get(deduplicationId) : undefined;
    if (known) return { status: 202, body: { messageId: known, deduplicated: true } };
    const messageId = `msg_${server.requests.length}`;
    if (deduplicationId) messageIds.set(deduplicationId, messageId);
    const destination = request.path.replace(/^\/v2\/publish\//, "");
    if (delivering) deliveries.push(delivered(request, destination, messageId, delivering));
    return { status, body: { messageId } };
  });
  return {
    url: server.url,
    published: server.requests,
    answer: (next, error = "quota exceeded") => {
      status = next;
      errorText = error;
    },
    settled: async () => {
      await Promise.all(deliveries);
    },
    close: () => server.close(),
  };
}

/** The Upstash-Signature QStash sends with a delivery of `body` to `url`, made at `at` and valid for 5 minutes. */
export async function qstashSignature(signingKey: string, url: string, body: string, { at = new Date() }: { at?: Date } = {}): Promise<string> {
  const bodyHash = createHash("sha256").update(body).digest("base64url");
  const now = Math.floor(at.getTime() / 1000);
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

/** A schedule as QStash's schedules API lists it. */
export interface FakeSchedule {
  scheduleId: string;
  cron: string;
  destination: string;
  method: string;
  retries: number;
  retryDelayExpression?: string;
  isPaused: boolean;
  createdAt: number;
  body?: string;
}

export interface FakeQstashSchedules {
  url: string;
  /** Every request our code sent, in order, exactly as sent. */
  requests: PublishRequest[];
  schedules: Map<string, FakeSchedule>;
  /** A schedule already there (made by hand, by another deployment, by an older table). */
  seed(schedule: Omit<FakeSchedule, "createdAt" | "isPaused"> & { isPaused?: boolean }): void;
  /**
   * Delivers a schedule as QStash does: its method and body to its destination, signed for the
   * destination with `signingKey`; `retried` is the delivery's retry count.
   */
  deliver(scheduleId: string, signingKey: string, options?: { retried?: number }): Promise<Response>;
  close(): Promise<void>;
}

/**
 * QStash's schedules API (list, create or replace by id, delete, resume) as a fake with state,
 * accepting only `Bearer <token>`; its errors are JSON with `error`, as QStash's are.
 */
export async function fakeQstashSchedules(token: string): Promise<FakeQstashSchedules> {
  const schedules = new Map<string, FakeSchedule>();
  let created = 0;
  let published = 0;
  const answer = (status: number, body?: unknown) => ({ status, body });
  const handle = (request: PublishRequest) => {
    if (request.headers.authorization !== `Bearer ${token}`) return answer(401, { error: "invalid token" });
    const path = request.path;
    if (request.method === "GET" && path === "/v2/schedules") return answer(200, [...schedules.values()]);
    // A message published (an alert for the webhook): taken, as QStash takes it.
    if (request.method === "POST" && path.startsWith("/v2/publish/")) return answer(201, { messageId: `msg_${++published}` });
    const create = /^\/v2\/schedules\/(https?:\/\/.+)$/.exec(path);
    if (request.method === "POST" && create?.[1]) {
      const header = (name: string) => {
        const value = request.headers[name];
        return typeof value === "string" ? value : undefined;
      };
      const cron = header("upstash-cron");
      if (!cron) return answer(400, { error: "Upstash-Cron header is required" });
      const scheduleId = header("upstash-schedule-id") ?? `scd_${++created}`;
      const retryDelay = header("upstash-retry-delay");
      schedules.set(scheduleId, {
        scheduleId,
        cron,
        destination: create[1],
        method: header("upstash-method") ?? "POST",
        retries: Number(header("upstash-retries") ?? 3),
        ...(retryDelay ? { retryDelayExpression: retryDelay } : {}),
        isPaused: false,
        createdAt: Date.now(),
        ...(request.body ? { body: request.body } : {}),
      });
      return answer(201, { scheduleId });
    }
    const one = /^\/v2\/schedules\/([^/]+)(\/resume|\/pause)?$/.exec(path);
    const schedule = one?.[1] ? schedules.get(decodeURIComponent(one[1])) : undefined;
    if (!one || !schedule) return answer(404, { error: "schedule not found" });
    if (request.method === "DELETE" && !one[2]) {
      schedules.delete(schedule.scheduleId);
      return answer(200);
    }
    if (request.method === "PATCH" && one[2]) {
      schedule.isPaused = one[2] === "/pause";
      return answer(200);
    }
    return answer(405, { error: "method not allowed" });
  };
  const server = await recordingServer(handle);
  let messages = 0;
  return {
    url: server.url,
    requests: server.requests,
    schedules,
    seed: (schedule) => schedules.set(schedule.scheduleId, { isPaused: false, createdAt: Date.now(), ...schedule }),
    deliver: async (scheduleId, signingKey, { retried = 0 } = {}) => {
      const schedule = schedules.get(scheduleId);
      if (!schedule) throw new Error(`no schedule ${scheduleId}`);
      const body = schedule.body ?? "";
      return fetch(schedule.destination, {
        method: schedule.method,
        headers: {
          "upstash-signature": await qstashSignature(signingKey, schedule.destination, body),
          "upstash-schedule-id": scheduleId,
          "upstash-message-id": `msg_${++messages}`,
          "upstash-retried": String(retried),
          "content-type": "application/json",
        },
        ...(schedule.method === "GET" || schedule.method === "HEAD" ? {} : { body }),
      });
    },
    close: () => server.close(),
  };
}
