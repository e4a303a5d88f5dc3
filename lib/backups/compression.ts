/**
 * zstd for archives: pg_dump writes uncompressed (its gzip was the backup's bottleneck: at 30M
 * messages 96-99 s against 33-36 s for zstd -3, and a 3.7% larger archive) and the stream is
 * compressed here on the way to age. A person reads an archive with the tools alone:
 * `age -d -i key.txt x.dump.zst.age | zstd -d > x.dump`. The binding (zstd-napi, the zstd
 * library itself) is loaded on first use, so the Vercel functions never load it.
 */
import type { Transform } from "node:stream";
import { BackupToolError } from "./errors.js";
import { describedError } from "../errors.js";

/** zstd's default level: the measured trade of speed against size for dumps. */
const LEVEL = 3;

type Zstd = typeof import("zstd-napi");

let loaded: Promise<Zstd> | undefined;
function zstd(): Promise<Zstd> {
  loaded ??= import("zstd-napi").catch((error: unknown) => {
    loaded = undefined;
    throw new BackupToolError(
      `zstd-napi, which compresses and decompresses archives, is not installed here (${describedError(error)}): ` +
        "run npm install on this machine (it builds zstd with the C compiler when no prebuilt binary can be had)",
    );
  });
  return loaded;
}

/** A stage that compresses what passes through it into one zstd frame with its checksum. */
export async function compressingStage(): Promise<Transform> {
  const { CompressStream } = await zstd();
  return new CompressStream({ compressionLevel: LEVEL, checksumFlag: true });
}

/** A stage that decompresses a zstd stream; a damaged frame fails it. */
export async function decompressingStage(): Promise<Transform> {
  const { DecompressStream } = await zstd();
  return new DecompressStream();
}
