/** Bearer secrets (cron secret, metrics token), compared in constant time. */
import { createHash, timingSafeEqual } from "node:crypto";
import { bearerOf } from "../auth/verify.js";
import { ConfigError } from "../config.js";
import { ApiError } from "./errors.js";

const digest = (value: string) => createHash("sha256").update(value).digest();

/** Passes when the request carries `Bearer <secret>`; 401 otherwise, 503 when no secret is configured. */
export function requireBearer(request: Request, secret: string | undefined, variable: string): void {
  if (!secret) throw new ConfigError(`Invalid configuration: ${variable} must be set`);
  const given = bearerOf(request.headers.get("authorization")) ?? "";
  // Digests have one length whatever was sent, so the comparison time says nothing about the secret.
  if (!timingSafeEqual(digest(given), digest(secret))) {
    throw new ApiError("UNAUTHORIZED", `a valid bearer ${variable.toLowerCase().replaceAll("_", " ")} is required`, {
      "www-authenticate": "Bearer",
    });
  }
}
