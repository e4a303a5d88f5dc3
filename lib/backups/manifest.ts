/**
 * A backup's manifest: what the archives hold (tables and their row counts, the extensions
 * their objects need, Supabase Auth's rows), the size and SHA-256 of each archive as stored
 * (compressed and encrypted, or not), and an HMAC-SHA256 signature by this installation's
 * BACKUP_SIGNING_KEY over all of it. The checksums prove the archives are the ones the
 * manifest describes; the signature proves we wrote them. A signature is checked over the body
 * exactly as it was signed, so manifests of earlier formats keep verifying.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import * as v from "valibot";
import { BackupIntegrityError, BackupUntrustedError } from "./errors.js";

export const MANIFEST_FORMAT = "gap-backup/3";
const FORMAT_2 = "gap-backup/2";
const LEGACY_FORMAT = "gap-backup/1";
const SIGNATURE_ALGORITHM = "HMAC-SHA256";

/** SQL identifiers as pg_dump and CREATE EXTENSION take them unquoted, and nothing else. */
const identifier = v.pipe(v.string(), v.regex(/^[a-z_][a-z0-9_]{0,62}$/, "must be a plain lowercase identifier"));
const count = v.pipe(v.number(), v.integer(), v.minValue(0));
const sha256 = v.pipe(v.string(), v.regex(/^[0-9a-f]{64}$/));
const archiveFile = v.pipe(v.string(), v.regex(/^[\w.-]+\.dump(\.zst)?(\.age)?$/, "must be a file name ending in .dump, .dump.zst or .dump.zst.age"));

const extension = v.object({
  name: identifier,
  schema: identifier,
  /** Restored objects depend on it (a column's type, an index's operator class): the restore needs it. */
  required: v.optional(v.boolean(), false),
});

const encryption = v.nullable(v.object({ format: v.literal("age"), recipients: v.pipe(v.array(v.string()), v.minLength(1)) }));

/** Supabase Auth's rows (users, identities, what a sign-in needs), in an archive of their own. */
const auth = v.object({
  archive: archiveFile,
  sizeBytes: count,
  sha256,
  /** Rows of each table, `auth.users` first. */
  tables: v.record(v.string(), count),
  /** auth.identities per provider (email, google, ...). */
  identities: v.record(v.string(), count),
  /** The platform's users without an auth.users row when the backup was taken (0 on a healthy project). */
  usersWithoutAuth: count,
});

const format2Entries = {
  format: v.literal(FORMAT_2),
  backupId: v.pipe(v.string(), v.regex(/^\d{1,18}$/)),
  archive: archiveFile,
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
  sha256,
  encryption,
};

const bodyEntries = {
  ...format2Entries,
  format: v.literal(MANIFEST_FORMAT),
  /** How pg_dump's output was compressed before encryption. */
  compression: v.nullable(v.literal("zstd")),
  /** On disk, the tables and indexes of the backed-up schemas when the backup was taken: what a restore writes. */
  databaseBytes: count,
  auth: v.nullable(auth),
};
// eslint-disable-next-line @typescript-eslint/no-unused-vars -- only its type is used, by ManifestBody
const body = v.object(bodyEntries);

const signature = v.object({ algorithm: v.literal(SIGNATURE_ALGORITHM), keyId: v.string(), value: v.string() });
const signedManifest = v.object({ ...bodyEntries, signature: v.optional(v.nullable(signature), null) });
const format2Manifest = v.object({ ...format2Entries, signature: v.optional(v.nullable(signature), null) });
const legacy = v.object({
  ...v.omit(v.object(format2Entries), ["format", "backupId", "pgDumpMajor", "encryption"]).entries,
  format: v.literal(LEGACY_FORMAT),
  archive: v.pipe(v.string(), v.regex(/^[\w.-]+\.dump$/)),
});

export type ManifestBody = v.InferOutput<typeof body>;
export type AuthPart = v.InferOutput<typeof auth>;
export type Signature = v.InferOutput<typeof signature>;

/** A manifest of any format, read as the current one (what older formats lack is null). */
export interface BackupManifest extends Omit<ManifestBody, "databaseBytes"> {
  /** Unknown for manifests written before it was recorded. */
  databaseBytes: number | null;
  signature: Signature | null;
  /** The body exactly as it was signed (the JSON without its signature): what the signature is checked over. */
  signedBody: Record<string, unknown>;
}

/** One archive a manifest describes, with what its bytes must be. */
export interface ManifestFile {
  part: "platform" | "auth";
  archive: string;
  sizeBytes: number;
  sha256: string;
}

/** The manifest's archives: the platform's, then the auth part's when there is one. */
export function manifestFiles(manifest: Pick<BackupManifest, "archive" | "sizeBytes" | "sha256" | "auth">): ManifestFile[] {
  const files: ManifestFile[] = [{ part: "platform", archive: manifest.archive, sizeBytes: manifest.sizeBytes, sha256: manifest.sha256 }];
  if (manifest.auth) files.push({ part: "auth", archive: manifest.auth.archive, sizeBytes: manifest.auth.sizeBytes, sha256: manifest.auth.sha256 });
  return files;
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

function signatureValue(key: string, signedBody: unknown): Buffer {
  return createHmac("sha256", key).update(canonicalJson(signedBody)).digest();
}

/** The manifest as written beside its archives: the body, and its signature by `key`. */
export function signedManifestText(manifest: ManifestBody, key: string): string {
  const signed = {
    ...manifest,
    signature: { algorithm: SIGNATURE_ALGORITHM, keyId: signingKeyId(key), value: signatureValue(key, manifest).toString("base64url") },
  };
  return `${JSON.stringify(signed, null, 2)}\n`;
}

function problemsOf(issues: v.BaseIssue<unknown>[]): string {
  return issues.map((issue) => `${v.getDotPath(issue) ?? ""} ${issue.message}`).join("; ");
}

/** The parsed manifest of any format (a legacy one read as unsigned and unencrypted), or BackupIntegrityError. */
export function parsedManifest(text: string, where: string): BackupManifest {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new BackupIntegrityError(`${where} is not a backup manifest: not JSON (cut short, or not a manifest)`);
  }
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) throw new BackupIntegrityError(`${where} is not a backup manifest: not a JSON object`);
  const { signature: _, ...signedBody } = raw as Record<string, unknown>;
  const format = (raw as { format?: unknown }).format;
  if (format === LEGACY_FORMAT) {
    const old = v.safeParse(legacy, raw);
    if (old.success) {
      const id = /-(\d{1,18})\.dump$/.exec(old.output.archive)?.[1] ?? "0";
      const pgDumpMajor = Number.parseInt(old.output.serverVersion, 10) || 1;
      return {
        ...old.output,
        format: MANIFEST_FORMAT,
        backupId: id,
        pgDumpMajor,
        encryption: null,
        compression: null,
        databaseBytes: null,
        auth: null,
        signature: null,
        signedBody,
      };
    }
  }
  if (format === FORMAT_2) {
    const second = v.safeParse(format2Manifest, raw);
    if (!second.success) throw new BackupIntegrityError(`${where} is not a backup manifest: ${problemsOf(second.issues)}`);
    return { ...second.output, format: MANIFEST_FORMAT, compression: null, databaseBytes: null, auth: null, signedBody };
  }
  const result = v.safeParse(signedManifest, raw);
  if (!result.success) throw new BackupIntegrityError(`${where} is not a backup manifest: ${problemsOf(result.issues)}`);
  return { ...result.output, signedBody };
}

/** The keys a manifest's signature may be checked with: this installation's, and those it signed with before. */
export interface SigningKeys {
  current: string | undefined;
  /** BACKUP_PREVIOUS_SIGNING_KEYS: verify only, never sign. */
  previous: readonly string[];
}

export type Trust = "signed" | "unsigned" | "other-key" | "bad-signature" | "no-key-here";

/** Whether one of `keys` signed this manifest as it stands. */
export function manifestTrust(manifest: BackupManifest, keys: SigningKeys): Trust {
  if (!manifest.signature) return "unsigned";
  const all = [keys.current, ...keys.previous].filter((key): key is string => Boolean(key));
  if (!all.length) return "no-key-here";
  const key = all.find((candidate) => signingKeyId(candidate) === manifest.signature?.keyId);
  if (!key) return "other-key";
  const expected = signatureValue(key, manifest.signedBody);
  const sent = Buffer.from(manifest.signature.value, "base64url");
  return sent.length === expected.length && timingSafeEqual(sent, expected) ? "signed" : "bad-signature";
}

/** Why a manifest is not trusted, in words a person can act on. */
export function untrustedReason(manifest: BackupManifest, trust: Exclude<Trust, "signed">, keys: SigningKeys): string {
  switch (trust) {
    case "unsigned":
      return "its manifest is not signed";
    case "bad-signature":
      return "its manifest does not match its signature: it was changed after it was signed";
    case "no-key-here":
      return `its manifest is signed by key ${manifest.signature?.keyId}, but BACKUP_SIGNING_KEY is not set here to check it`;
    case "other-key": {
      const known = [keys.current, ...keys.previous].filter((key): key is string => Boolean(key)).map(signingKeyId);
      return (
        `its manifest is signed by key ${manifest.signature?.keyId}, which is not BACKUP_SIGNING_KEY` +
        `${keys.current ? ` (key ${signingKeyId(keys.current)})` : ""} nor one of BACKUP_PREVIOUS_SIGNING_KEYS` +
        `${known.length > 1 ? ` (${known.slice(1).join(", ")})` : ""}: set the key whose id is ${manifest.signature?.keyId}`
      );
    }
  }
}

/**
 * Passes a manifest one of our keys signed; refuses any other before anything is touched,
 * unless the operator said to take it anyway (`--allow-unsigned`: whatever the archive holds
 * runs in the target database, so only for an archive whose origin is known).
 */
export function requireTrusted(manifest: BackupManifest, keys: SigningKeys, allowUnsigned: boolean, where: string): Trust {
  const trust = manifestTrust(manifest, keys);
  if (trust === "signed" || allowUnsigned) return trust;
  throw new BackupUntrustedError(
    `refusing ${where}: ${untrustedReason(manifest, trust, keys)}. Restore it only if you know where it came from, with --allow-unsigned`,
  );
}
