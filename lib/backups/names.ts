/**
 * The names of a backup's files, in one place: `gap-<time>-<id>` is the backup's name; beside
 * its manifest `<name>.json` lie the platform's archive `<name>.dump[.zst][.age]` and, where the
 * database has Supabase Auth, `<name>.auth.dump[.zst][.age]`. The name carries the time the run
 * started and its id, so a backup can be placed in time even when its manifest is unreadable.
 */

/** A backup's name: `gap-20261128T030000Z-41`. */
const BACKUP_NAME = /^gap-(\d{8}T\d{6}Z)-(\d{1,18})$/;
/** An archive of a backup: `<name>[.auth].dump[.zst][.age]`. */
const ARCHIVE = /^(gap-[\w-]+?)(\.auth)?\.dump(\.zst)?(\.age)?$/;
const MANIFEST = /^(gap-[\w-]+)\.json$/;

export type ArchivePart = "platform" | "auth";

export function backupName(id: string, startedAt: Date): string {
  return `gap-${startedAt
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z")}-${id}`;
}

/** The file name of one of a backup's archives. */
export function archiveFileName(name: string, part: ArchivePart, { compressed, encrypted }: { compressed: boolean; encrypted: boolean }): string {
  return `${name}${part === "auth" ? ".auth" : ""}.dump${compressed ? ".zst" : ""}${encrypted ? ".age" : ""}`;
}

/** The backup name of an archive's or a manifest's file name (a path or key's last segment), or undefined. */
export function backupNameOf(file: string): string | undefined {
  const base = file.slice(file.lastIndexOf("/") + 1);
  return ARCHIVE.exec(base)?.[1] ?? MANIFEST.exec(base)?.[1];
}

/** Whether a file name is an archive of the platform's data (not the auth part, not a manifest). */
export function isPlatformArchive(file: string): boolean {
  const match = ARCHIVE.exec(file.slice(file.lastIndexOf("/") + 1));
  return match !== null && match[2] === undefined;
}

/** Whether a file name is one of a backup's archives. */
export function isArchive(file: string): boolean {
  return ARCHIVE.test(file.slice(file.lastIndexOf("/") + 1));
}

/** The manifest beside an archive (or the manifest itself), same folder or key prefix. */
export function manifestPathOf(file: string): string {
  const slash = file.lastIndexOf("/");
  const name = backupNameOf(file);
  if (!name) return file;
  return `${file.slice(0, slash + 1)}${name}.json`;
}

/** The backup name of a manifest's file name (a path or key's last segment), or undefined when `file` is not one. */
export function manifestName(file: string): string | undefined {
  return MANIFEST.exec(file.slice(file.lastIndexOf("/") + 1))?.[1];
}

/** When the run started and its id, as its name says; undefined for a name not of this form. */
export function parsedBackupName(name: string): { startedAt: Date; id: string } | undefined {
  const match = BACKUP_NAME.exec(name);
  if (!match?.[1] || !match[2]) return undefined;
  const [, stamp, id] = match;
  const iso = `${stamp.slice(0, 4)}-${stamp.slice(4, 6)}-${stamp.slice(6, 8)}T${stamp.slice(9, 11)}:${stamp.slice(11, 13)}:${stamp.slice(13, 15)}Z`;
  const startedAt = new Date(iso);
  return Number.isNaN(startedAt.getTime()) ? undefined : { startedAt, id };
}
