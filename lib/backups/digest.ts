/** Size and SHA-256 of bytes as they stream past: an archive is hashed while it is written or read, never held whole. */
import { createHash } from "node:crypto";
import { Transform, type Readable } from "node:stream";
import { BackupIntegrityError } from "./errors.js";

export interface Digest {
  sizeBytes: number;
  sha256: string;
}

export interface DigestStage {
  /** Passes every byte on unchanged. */
  stage: Transform;
  /** The digest of what passed, once the stream has ended. */
  digest(): Digest;
}

export function digestStage(): DigestStage {
  const hash = createHash("sha256");
  let sizeBytes = 0;
  let sha256: string | undefined;
  const stage = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      sizeBytes += chunk.length;
      done(null, chunk);
    },
  });
  return {
    stage,
    digest: () => ({ sizeBytes, sha256: (sha256 ??= hash.digest("hex")) }),
  };
}

/** The digest of a whole stream, read to its end. */
export async function streamDigest(source: Readable): Promise<Digest> {
  const hash = createHash("sha256");
  let sizeBytes = 0;
  for await (const chunk of source) {
    hash.update(chunk as Buffer);
    sizeBytes += (chunk as Buffer).length;
  }
  return { sizeBytes, sha256: hash.digest("hex") };
}

export function mismatch(location: string, found: Digest, expected: Digest): BackupIntegrityError {
  return new BackupIntegrityError(
    `${location} does not match its manifest (${found.sizeBytes} bytes, sha256 ${found.sha256}; the manifest says ` +
      `${expected.sizeBytes} bytes, sha256 ${expected.sha256}): it is damaged or not the archive that was written`,
  );
}

/**
 * A stage that passes an archive on while proving it is the one the manifest describes: it
 * fails as soon as more bytes arrive than the manifest's size, and it holds back the last chunk
 * until the whole stream's SHA-256 is known to match. A restore reading through it can start
 * while the archive still downloads, yet never reaches the archive's end, and so never
 * commits, unless every byte was the one signed for: a mismatch fails the stream, and the
 * restore's transaction is rolled back.
 */
export function verifyingStage(expected: Digest, location: string): Transform {
  const hash = createHash("sha256");
  let sizeBytes = 0;
  let held: Buffer | undefined;
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      sizeBytes += chunk.length;
      if (sizeBytes > expected.sizeBytes) {
        done(
          new BackupIntegrityError(
            `${location} is larger than its manifest's ${expected.sizeBytes} bytes: it is not the archive that was written; nothing past that size was read`,
          ),
        );
        return;
      }
      hash.update(chunk);
      const previous = held;
      held = chunk;
      done(null, previous);
    },
    flush(done) {
      const found = { sizeBytes, sha256: hash.digest("hex") };
      if (found.sizeBytes !== expected.sizeBytes || found.sha256 !== expected.sha256) {
        done(mismatch(location, found, expected));
        return;
      }
      done(null, held);
    },
  });
}
