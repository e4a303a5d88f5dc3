/**
 * A backup's manifest: what the archive holds (tables and their row counts, the extensions
 * its objects need), the size and SHA-256 of the archive as stored (encrypted or not), and an
 * HMAC-SHA256 signature by this installation's BACKUP_SIGNING_KEY over all of it. The checksum
 * proves the archive is the one the manifest describes; the signature proves we wrote both.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import { z } from "zod";
import { BackupIntegrityError, BackupUntrustedError } from "./errors.js";

export const MANIFEST_FORMAT = "gap-backup/2";
const LEGACY_FORMAT = "gap-backup/1";
const SIGNATURE_ALGORITHM = "HMAC-SHA256";

/** SQL identifiers as pg_dump and CREATE EXTENSION take them unquoted, and nothing else. */
const identifier = z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, "must be a plain lowercase identifier");

const extension = z.object({
  name: identifier,
  schema: identifier,
  /** Restored objects depend on it (a column's type, an index's operator class): the restore needs it. */
  required: z.boolean().default(false),
});

const body = z.object({
  format: z.literal(MANIFEST_FORMAT),
  backupId: z.string().regex(/^\d{1,18}$/),
  archive: z.string().regex(/^[\w.-]+\.dump(\.age)?$/, "must be a file name ending in .dump or .dump.age"),
  database: z.string(),
  serverVersion: z.string(),
  pgDumpMajor: z.number().int().positive(),
  schemas: z.array(identifier),
  extensions: z.array(extension),
  tables: z.record(z.string(), z.number().int().nonnegative()),
  startedAt: z.string(),
  finishedAt: z.string(),
  /** Of the archive as stored: the ciphertext when encrypted. */
  sizeBytes: z.number().int().nonnegative(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  encryption: z.object({ format: z.literal("age"), recipients: z.array(z.string()).min(1) }).nullable(),
});

const signature = z.object({ algorithm: z.literal(SIGNATURE_ALGORITHM), keyId: z.string(), value: z.string() });

const legacy = body
  .omit({ format: true, backupId: true, pgDumpMajor: true, encryption: true })
  .extend({ format: z.literal(LEGACY_FORMAT), archive: z.string().regex(/^[\w.-]+\.dump$/) });

export type ManifestBody = z.infer<typeof body>;
export type Signature = z.infer<typeof signature>;

export interface BackupManifest extends ManifestBody {
  signature: Signature | null;
}

/** JSON with object keys sorted at every depth: the same manifest always signs the same bytes. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${canonicalJson(item)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

/** A short, public name of the key: says which key signed without saying anything of it. */
export function signingKeyId(key: string): string {
  return createHmac("sha256", key).update("gap-backup signing key id").digest("hex").slice(0, 16);
}

function signatureValue(key: string, manifest: ManifestBody): Buffer {
  return createHmac("sha256", key).update(canonicalJson(manifest)).digest();
}

/** The manifest as written beside its archive: the body, and its signature by `key`. */
export function signedManifestText(manifest: ManifestBody, key: string): string {
  const signed: BackupManifest = {
    ...manifest,
    signature: { algorithm: SIGNATURE_ALGORITHM, keyId: signingKeyId(key), value: signatureValue(key, manifest).toString("base64url") },
  };
  return `${JSON.stringify(signed, null, 2)}\n`;
}

/** The parsed manifest (a legacy one read as unsigned and unencrypted), or BackupIntegrityError. */
export function parsedManifest(text: string, where: string): BackupManifest {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new BackupIntegrityError(`${where} is not a backup manifest: not JSON`);
  }
  const format = (raw as { format?: unknown } | null)?.format;
  if (format === LEGACY_FORMAT) {
    const old = legacy.safeParse(raw);
    if (old.success) {
      const id = /-(\d{1,18})\.dump$/.exec(old.data.archive)?.[1] ?? "0";
      return { ...old.data, format: MANIFEST_FORMAT, backupId: id, pgDumpMajor: Number.parseInt(old.data.serverVersion, 10) || 1, encryption: null, signature: null };
    }
  }
  const result = body.extend({ signature: signature.nullable().default(null) }).safeParse(raw);
  if (!result.success) {
    throw new BackupIntegrityError(`${where} is not a backup manifest: ${result.error.issues.map((i) => `${i.path.join(".")} ${i.message}`).join("; ")}`);
  }
  return result.data;
}

export type Trust = "signed" | "unsigned" | "other-key" | "bad-signature" | "no-key-here";

/** Whether `key` signed this manifest as it stands. */
export function manifestTrust(manifest: BackupManifest, key: string | undefined): Trust {
  if (!manifest.signature) return "unsigned";
  if (!key) return "no-key-here";
  if (manifest.signature.keyId !== signingKeyId(key)) return "other-key";
  const { signature: given, ...rest } = manifest;
  const expected = signatureValue(key, rest);
  const sent = Buffer.from(given.value, "base64url");
  return sent.length === expected.length && timingSafeEqual(sent, expected) ? "signed" : "bad-signature";
}

const UNTRUSTED: Record<Exclude<Trust, "signed">, string> = {
  unsigned: "its manifest is not signed",
  "other-key": "its manifest is signed by another key than this installation's BACKUP_SIGNING_KEY",
  "bad-signature": "its manifest does not match its signature: it was changed after it was signed",
  "no-key-here": "its manifest is signed, but BACKUP_SIGNING_KEY is not set here to check it",
};

/**
 * Passes a manifest this installation signed; refuses any other before anything is touched,
 * unless the operator said to take it anyway (`--allow-unsigned`: whatever the archive holds
 * runs in the target database, so only for an archive whose origin is known).
 */
export function requireTrusted(manifest: BackupManifest, key: string | undefined, allowUnsigned: boolean, where: string): Trust {
  const trust = manifestTrust(manifest, key);
  if (trust === "signed" || allowUnsigned) return trust;
  throw new BackupUntrustedError(`refusing ${where}: ${UNTRUSTED[trust]}. Restore it only if you know where it came from, with --allow-unsigned`);
}
