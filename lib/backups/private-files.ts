/**
 * Files written where another user might reach: BACKUP_DIR must be writable by this user
 * alone; work in progress lives in a workspace of unpredictable name inside it (mode 0700);
 * each file is created exclusively (an existing file or a symlink in its place is an error,
 * never followed); and a finished file is published under its final name by a hard link,
 * which fails rather than replace whatever is there.
 */
import { constants, type ReadStream, type WriteStream } from "node:fs";
import { link, lstat, mkdir, mkdtemp, open, readdir, rm, stat, unlink } from "node:fs/promises";
import path from "node:path";
import { BackupIntegrityError, UnsafeBackupDirError } from "./errors.js";

const EXCLUSIVE_WRITE = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
const WORKSPACE_PREFIX = ".work-";
/** A workspace this old was left by a run that died: no run takes this long. */
const STALE_WORKSPACE_MS = 24 * 3600 * 1000;

/**
 * BACKUP_DIR as an absolute path, made (mode 0700) when missing; refused when another user
 * owns it or may write it, since they could then swap the files a backup or a restore reads.
 */
export async function privateBackupDir(dir: string): Promise<string> {
  const absolute = path.resolve(dir);
  await mkdir(absolute, { recursive: true, mode: 0o700 });
  const info = await stat(absolute);
  const uid = process.getuid?.();
  if (!info.isDirectory()) throw new UnsafeBackupDirError(`BACKUP_DIR ${absolute} is not a folder`);
  if (uid !== undefined && info.uid !== uid) {
    throw new UnsafeBackupDirError(
      `BACKUP_DIR ${absolute} belongs to another user (uid ${info.uid}, this process runs as ${uid}): use a folder of this user's`,
    );
  }
  if (info.mode & 0o022) {
    throw new UnsafeBackupDirError(
      `BACKUP_DIR ${absolute} is writable by other users (mode ${(info.mode & 0o777).toString(8)}): run chmod go-w ${absolute}, or use another folder`,
    );
  }
  return absolute;
}

export interface Workspace {
  dir: string;
  /** A new file in the workspace, created exclusively; `name` must be a plain file name. */
  create(name: string): Promise<WriteStream>;
  /** The path of a file in the workspace. */
  file(name: string): string;
  remove(): Promise<void>;
}

/** A private folder of unpredictable name inside `parent` (already checked by privateBackupDir). */
export async function workspace(parent: string): Promise<Workspace> {
  await removeStaleWorkspaces(parent);
  const dir = await mkdtemp(path.join(parent, WORKSPACE_PREFIX));
  const file = (name: string) => {
    if (name !== path.basename(name) || name.startsWith(".")) throw new Error(`not a plain file name: ${name}`);
    return path.join(dir, name);
  };
  return {
    dir,
    file,
    create: (name) => exclusiveWriteStream(file(name)),
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

/** A write stream on a file that did not exist; a symlink or a file in its place is an error. */
async function exclusiveWriteStream(file: string): Promise<WriteStream> {
  const handle = await open(file, EXCLUSIVE_WRITE, 0o600);
  return handle.createWriteStream();
}

/**
 * Gives the finished file `from` its final name `to` (same folder tree, same file system).
 * A hard link never replaces an existing name and never follows a symlink standing there.
 */
export async function publish(from: string, to: string): Promise<void> {
  try {
    await link(from, to);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") {
      throw new UnsafeBackupDirError(`${to} exists already (a file or a link someone put there): refusing to replace it`);
    }
    throw error;
  }
  await unlink(from);
}

/**
 * A read stream of the regular file at `file`, never through a symlink (a restore reads what
 * the backup wrote) and never of a FIFO or a device, which could hang a read or never end it;
 * `maxBytes` stops it one byte past that size, so a larger file tells without being read whole.
 */
export async function regularFileStream(file: string, { maxBytes }: { maxBytes?: number } = {}): Promise<ReadStream> {
  // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer.
  const handle = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  const info = await handle.stat();
  if (!info.isFile()) {
    await handle.close();
    throw new BackupIntegrityError(`${file} is not a regular file`);
  }
  return handle.createReadStream(maxBytes === undefined ? {} : { end: maxBytes });
}

/** The text of the regular file at `file` (see regularFileStream), refused when larger than `maxBytes`. */
export async function regularFileText(file: string, maxBytes: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of await regularFileStream(file, { maxBytes })) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) throw new BackupIntegrityError(`${file} is larger than ${maxBytes} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}

async function removeStaleWorkspaces(parent: string): Promise<void> {
  const entries = await readdir(parent).catch(() => []);
  const now = Date.now();
  for (const name of entries.filter((entry) => entry.startsWith(WORKSPACE_PREFIX))) {
    const full = path.join(parent, name);
    const info = await lstat(full).catch(() => undefined);
    if (info?.isDirectory() && now - info.mtimeMs > STALE_WORKSPACE_MS) await rm(full, { recursive: true, force: true });
  }
}
