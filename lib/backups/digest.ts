/** Size and SHA-256 of bytes as they stream past: an archive is hashed while it is written or read, never held whole. */
import { createHash } from "node:crypto";
import { Transform, type Readable } from "node:stream";
import { regularFileStream } from "./private-files.js";

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

/** The digest of a file (not of whatever a symlink in its place points at). */
export async function fileDigest(file: string): Promise<Digest> {
  return streamDigest(await regularFileStream(file));
}
