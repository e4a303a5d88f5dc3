/**
 * Archives encrypted with age (age-encryption.org, the `age-encryption` package): to one or
 * more public recipients as they are written, so taking a backup needs no secret, and a
 * person can decrypt one with the `age` tool alone (`age -d -i key.txt archive.dump.age`).
 * Decryption needs the identity, which never leaves the machines that restore.
 */
import { readFile } from "node:fs/promises";
import { Duplex, Readable } from "node:stream";
import { Decrypter, Encrypter } from "age-encryption";
import { BackupIntegrityError, BackupUntrustedError } from "./errors.js";
import { describedError } from "../errors.js";

/** The file name suffix of an encrypted archive. */
export const AGE_SUFFIX = ".age";

/** A stream stage that encrypts what passes through it to every recipient. */
export async function encryptingStage(recipients: readonly string[]): Promise<Duplex> {
  const encrypter = new Encrypter();
  for (const recipient of recipients) {
    try {
      encrypter.addRecipient(recipient);
    } catch {
      throw new Error(`BACKUP_AGE_RECIPIENTS holds ${recipient.slice(0, 12)}..., which is not a valid age public key`);
    }
  }
  const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
  const encrypted = await encrypter.encrypt(readable);
  return Duplex.fromWeb({ readable: encrypted, writable }, { objectMode: false });
}

/** The identities of a key file in age-keygen's format: one per line, `#` comments. */
function identitiesIn(text: string): string[] {
  return text
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"));
}

/** The configured age identities: BACKUP_AGE_IDENTITY, or the key file BACKUP_AGE_IDENTITY_FILE. */
export async function configuredIdentities({ identity, identityFile }: { identity?: string; identityFile?: string }): Promise<string[]> {
  if (identity) return [identity];
  if (!identityFile) return [];
  const text = await readFile(identityFile, "utf8").catch((error: NodeJS.ErrnoException) => {
    throw new BackupUntrustedError(`cannot read BACKUP_AGE_IDENTITY_FILE ${identityFile} (${error.code ?? error.message})`);
  });
  const identities = identitiesIn(text);
  if (!identities.length) throw new BackupUntrustedError(`BACKUP_AGE_IDENTITY_FILE ${identityFile} holds no age secret key`);
  return identities;
}

/**
 * The plaintext of an encrypted stream. The header is read and matched against the
 * identities before this resolves, so a wrong or missing identity fails here, before
 * anything is restored; a damaged or cut payload fails the stream later.
 */
export async function decrypted(source: Readable, identities: readonly string[]): Promise<Readable> {
  if (!identities.length) {
    source.destroy();
    throw new BackupUntrustedError(
      "the archive is encrypted: set BACKUP_AGE_IDENTITY (or BACKUP_AGE_IDENTITY_FILE) to the age secret key of one of its recipients",
    );
  }
  const decrypter = new Decrypter();
  for (const identity of identities) {
    try {
      decrypter.addIdentity(identity);
    } catch {
      source.destroy();
      throw new BackupUntrustedError("the configured age identity is not a valid age secret key (AGE-SECRET-KEY-1...)");
    }
  }
  try {
    const plain = await decrypter.decrypt(Readable.toWeb(source) as unknown as ReadableStream<Uint8Array>);
    return Readable.fromWeb(plain);
  } catch (error) {
    source.destroy();
    // The bytes failed their checksum before the header could be read: that, not the key, is the problem.
    if (error instanceof BackupIntegrityError) throw error;
    const reason = describedError(error);
    throw new BackupUntrustedError(
      /no identity matched/i.test(reason)
        ? "the archive is not encrypted to the configured age identity (BACKUP_AGE_IDENTITY or BACKUP_AGE_IDENTITY_FILE): use the secret key of one of its recipients"
        : `the archive cannot be decrypted: ${reason}`,
    );
  }
}
