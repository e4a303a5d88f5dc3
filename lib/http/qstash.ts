/** Requests QStash delivers: signed (Upstash-Signature, a JWT over the URL and the body's hash) with the current or next signing key. */
import { Receiver } from "@upstash/qstash";
import { config, ConfigError } from "../config.js";
import { ApiError } from "./errors.js";

/**
 * The raw body of a request QStash signed for `url` (the destination as published, so a
 * proxy in front changes nothing); 401 for a missing or wrong signature, 413 past `maxBytes`.
 */
export async function qstashSignedBody(request: Request, url: string, maxBytes: number): Promise<string> {
  const { currentSigningKey, nextSigningKey } = config().qstash;
  if (!currentSigningKey || !nextSigningKey) {
    throw new ConfigError("Invalid configuration: QSTASH_CURRENT_SIGNING_KEY and QSTASH_NEXT_SIGNING_KEY must be set");
  }
  const body = await request.text();
  if (Buffer.byteLength(body) > maxBytes) throw new ApiError("PAYLOAD_TOO_LARGE", `body must be at most ${maxBytes} bytes`);
  const signature = request.headers.get("upstash-signature");
  if (!signature) throw new ApiError("UNAUTHORIZED", "an Upstash-Signature header is required");
  const receiver = new Receiver({ currentSigningKey, nextSigningKey, devMode: false });
  const valid = await receiver.verify({ signature, body, url }).catch(() => false);
  if (!valid) throw new ApiError("UNAUTHORIZED", "the Upstash-Signature is not valid for this request");
  return body;
}
