/**
 * One upload of a file to the bucket and its read-back, in a process of its own, for
 * `npm run bench:backups`: prints the seconds it took and the process's peak resident memory.
 * Arguments: the file, then the endpoint and bucket of an S3-compatible store.
 */
import path from "node:path";
import { regularFileStream } from "../lib/backups/private-files.js";
import { objectStore } from "../lib/backups/object-store.js";

const [file, endpoint, bucket] = process.argv.slice(2);
if (!file || !endpoint || !bucket) throw new Error("usage: tsx bench/upload-memory.ts <file> <endpoint> <bucket>");
const store = objectStore({
  bucket,
  prefix: "bench/",
  endpoint,
  region: "us-east-1",
  credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" },
  forcePathStyle: true,
});
const key = `bench/${path.basename(file)}`;
const started = performance.now();
await store.upload(key, await regularFileStream(file));
const { sizeBytes } = await store.digest(key);
const seconds = (performance.now() - started) / 1000;
// maxRSS is in kilobytes.
console.log(JSON.stringify({ sizeBytes, seconds, peakRssBytes: process.resourceUsage().maxRSS * 1024 }));
