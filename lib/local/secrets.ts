/** Secrets of the local platform: the configured one, else one generated once into LOCAL_DATA_DIR. */
import { randomBytes } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { config } from "../config.js";

/** The file the local platform keeps its backup signing key in: restores on this machine find it there. */
export const SIGNING_KEY_FILE = "backup-signing-key";

/** The kept secret `fileName`, if `npm start` made one. */
export async function keptLocalSecret(fileName: string): Promise<string | undefined> {
  const kept = await readFile(path.join(config().localDataDir, fileName), "utf8").catch(() => undefined);
  return kept?.trim() || undefined;
}

/** `configured` when set, else the kept secret, made now when there is none. */
export async function localSecret(configured: string | undefined, fileName: string): Promise<string> {
  if (configured) return configured;
  const kept = await keptLocalSecret(fileName);
  if (kept) return kept;
  const secret = randomBytes(32).toString("base64url");
  await mkdir(config().localDataDir, { recursive: true });
  await writeFile(path.join(config().localDataDir, fileName), secret, { mode: 0o600 });
  return secret;
}
