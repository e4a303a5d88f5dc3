import { execFileSync } from "node:child_process";
import { chmod, lstat, mkdir, readFile, readdir, symlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { UnsafeBackupDirError } from "../../../lib/backups/errors.js";
import { privateBackupDir, publish, regularFileStream, workspace } from "../../../lib/backups/private-files.js";
import { testTempDir } from "../../harness/temp.js";

/** Every name a backup, a download or a restore writes in its workspace. */
const WORKSPACE_NAMES = ["gap-20261129T000000Z-1.dump", "gap-20261129T000000Z-1.dump.age", "gap-20261129T000000Z-1.json", "restore.list"];

describe("BACKUP_DIR", () => {
  it("is made private when missing, and refused when another user may write it", async () => {
    const root = await testTempDir("gap-private-");
    const made = await privateBackupDir(path.join(root, "new", "backups"));
    expect(((await lstat(made)).mode & 0o777).toString(8)).toBe("700");
    const shared = path.join(root, "shared");
    await mkdir(shared);
    await chmod(shared, 0o775);
    await expect(privateBackupDir(shared)).rejects.toThrow(UnsafeBackupDirError);
    await expect(privateBackupDir(shared)).rejects.toThrow(`BACKUP_DIR ${shared} is writable by other users (mode 775)`);
  });

  it.skipIf(process.getuid?.() !== 0)("is refused when another user owns it (as root, chown to nobody)", async () => {
    const owned = path.join(await testTempDir("gap-owned-"), "backups");
    await mkdir(owned, { mode: 0o700 });
    execFileSync("chown", ["nobody", owned]);
    await expect(privateBackupDir(owned)).rejects.toThrow(/belongs to another user \(uid \d+, this process runs as 0\)/);
  });
});

describe("a workspace", () => {
  it("has an unpredictable name, mode 0700, and is gone after remove", async () => {
    const root = await privateBackupDir(await testTempDir("gap-ws-"));
    const [a, b] = [await workspace(root), await workspace(root)];
    expect(a.dir).not.toBe(b.dir);
    expect(path.basename(a.dir)).toMatch(/^\.work-[A-Za-z0-9]{6}$/);
    expect(((await lstat(a.dir)).mode & 0o777).toString(8)).toBe("700");
    await a.remove();
    await b.remove();
    expect(await readdir(root)).toEqual([]);
  });

  it.each(WORKSPACE_NAMES)("refuses to write %s through a symlink planted there, and leaves its target alone", async (name) => {
    const root = await privateBackupDir(await testTempDir("gap-ws-"));
    const victim = path.join(await testTempDir("gap-victim-"), "precious");
    await writeFile(victim, "keep me");
    const work = await workspace(root);
    await symlink(victim, work.file(name));
    await expect(work.create(name)).rejects.toMatchObject({ code: "EEXIST" });
    await writeFile(path.join(work.dir, "plain"), "x");
    await expect(work.create("plain")).rejects.toMatchObject({ code: "EEXIST" });
    expect(await readFile(victim, "utf8")).toBe("keep me");
    await work.remove();
  });

  it("takes plain file names only", async () => {
    const work = await workspace(await privateBackupDir(await testTempDir("gap-ws-")));
    expect(() => work.file("../escape")).toThrow("not a plain file name: ../escape");
    expect(() => work.file(".hidden")).toThrow("not a plain file name");
    await work.remove();
  });
});

describe("publishing a finished file", () => {
  it("never replaces what stands at the final name, a file or a link", async () => {
    const root = await privateBackupDir(await testTempDir("gap-pub-"));
    const victim = path.join(await testTempDir("gap-victim-"), "precious");
    await writeFile(victim, "keep me");
    const work = await workspace(root);
    await pipeline(Readable.from(["archive"]), await work.create("a.dump"));
    await symlink(victim, path.join(root, "a.dump"));
    await expect(publish(work.file("a.dump"), path.join(root, "a.dump"))).rejects.toThrow(`${path.join(root, "a.dump")} exists already`);
    expect(await readFile(victim, "utf8")).toBe("keep me");
    await pipeline(Readable.from(["archive"]), await work.create("b.dump"));
    await publish(work.file("b.dump"), path.join(root, "b.dump"));
    expect(await readFile(path.join(root, "b.dump"), "utf8")).toBe("archive");
    await expect(lstat(work.file("b.dump"))).rejects.toMatchObject({ code: "ENOENT" });
    await work.remove();
  });

  it("is read back without following a link in its place", async () => {
    const dir = await testTempDir("gap-read-");
    await writeFile(path.join(dir, "real"), "x");
    await symlink(path.join(dir, "real"), path.join(dir, "link"));
    await expect(regularFileStream(path.join(dir, "link"))).rejects.toMatchObject({ code: "ELOOP" });
  });
});
