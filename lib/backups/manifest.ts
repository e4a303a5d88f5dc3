/**
 * A backup's manifest: what the archive holds (tables and their row counts, the extensions
 * its objects need), the size and SHA-256 of the archive as stored (encrypted or not), and an
 * HMAC-SHA256 signature by this installation's BACKUP_SIGNING_KEY over all of it. The checksum
 * proves the archive is the one the manifest describes; the signature proves we wrote both.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import * as v from "valibot";
import { BackupIntegrityError, BackupUntrustedError } from "./errors.js";

export const MANIFEST_FORMAT = "gap-backup/2";
const LEGACY_FORMAT = "gap-backup/1";
const SIGNATURE_ALGORITHM = "HMAC-SHA256";

/** SQL identifiers as pg_dump and CREATE EXTENSION take them unquoted, and nothing else. */
const identifier = v.pipe(v.string(), v.regex(/^[a-z_][a-z0-9_]{0,62}$/, "must be a plain lowercase identifier"));
const count = v.pipe(v.number(), v.integer(), v.minValue(0));

const extension = v.object({
  name: identifier,
  schema: identifier,
  /** Restored objects depend on it (a column's type, an index's operator class): the restore needs it. */
  required: v.optional(v.boolean(), false),
});

const bodyEntries = {
  format: v.literal(MANIFEST_FORMAT),
  backupId: v.pipe(v.string(), v.regex(/^\d{1,18}$/)),
  archive: v.pipe(v.string(), v.regex(/^[\w.-]+\.dump(\.age)?$/, "must be a file name ending in .dump or .dump.age")),
  database: v.string(),
  serverVersion: v.string(),
  pgDumpMajor: v.pipe(v.number(), v.integer(), v.minValue(1)),
  schemas: v.array(identifier),
  extensions: v.array(extension),
  tables: v.record(v.string(), count),
  startedAt: v.string(),
  finishedAt: v.string(),
  /** Of the archive as stored: the ciphertext when encrypted. */
  sizeBytes: count,
  sha256: v.pipe(v.string(), v.regex(/^[0-9a-f]{64}$/)),
  encryption: v.nullable(v.object({ format: v.literal("age"), recipients: v.pipe(v.array(v.string()), v.minLength(1)) })),
};
const body = v.object(bodyEntries);

const signature = v.object({ algorithm: v.literal(SIGNATURE_ALGORITHM), keyId: v.string(), value: v.string() });

const signedManifest = v.object({ ...bodyEntries, signature: v.optional(v.nullable(signature), null) });

const legacy = v.object({
  ...v.omit(body, ["format", "backupId", "pgDumpMajor", "encryption"]).entries,
  format: v.literal(LEGACY_FORMAT),
  archive: v.pipe(v.string(), v.regex(/^[\w.-]+\.dump$/)),
});

export type ManifestBody = v.InferOutput<typeof body>;
export type Signature = v.InferOutput<typeof signature>;

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
    const old = v.safeParse(legacy, raw);
    if (old.success) {
      const id = /-(\d{1,18})\.dump$/.exec(old.output.archive)?.[1] ?? "0";
      return { ...old.output, format: MANIFEST_FORMAT, backupId: id, pgDumpMajor: Number.parseInt(old.output.serverVersion, 10) || 1, encryption: null, signature: null };
    }
  }
  const result = v.safeParse(signedManifest, raw);
  if (!result.success) {
    const problems = result.issues.map((issue) => `${v.getDotPath(issue) ?? ""} ${issue.message}`);
    throw new BackupIntegrityError(`${where} is not a backup manifest: ${problems.join("; ")}`);
  }
  return result.output;
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
