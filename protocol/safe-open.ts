import type { BigIntStats } from "node:fs";
import { constants } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import { lstat, open, realpath } from "node:fs/promises";
import { isAbsolute, relative, sep } from "node:path";
import { errnoCode, ProtocolError } from "./errors.ts";

// Queue files come from another machine through Syncthing, which syncs symbolic links as links on
// Linux: a `stdout.log` pointing at /etc/passwd, or a FIFO named job.json, must never be read. Every
// reader opens through here. The path is checked with lstat before anything is opened (so a FIFO or
// device is never opened at all), opened without following a final link where the OS can (O_NOFOLLOW;
// Windows has no such flag), and the open handle is then checked to be the very regular file that was
// checked (fstat: same device and inode), so a swap between the check and the open is caught too.

/** O_NOFOLLOW and O_NONBLOCK where they exist (POSIX); undefined on Windows, where they are 0 here. */
const NOFOLLOW = constants.O_NOFOLLOW ?? 0;
// A FIFO swapped in after the lstat would block open() until a writer came; non-blocking, it opens at
// once and fstat refuses it. Reads of a regular file ignore the flag.
const NONBLOCK = constants.O_NONBLOCK ?? 0;

export interface OpenRegularOptions {
  /**
   * A folder the file must really lie in: after opening, the file's real path (links in any folder on
   * the way resolved) must be inside this folder's real path and name the opened file. Use it for
   * files below a job folder, where a linked folder (`3_results` -> `/etc`) would otherwise lead out.
   */
  within?: string;
}

/** What a non-regular directory entry is, in words. */
export function describeFileKind(
  stats: Pick<
    BigIntStats,
    "isSymbolicLink" | "isFIFO" | "isSocket" | "isBlockDevice" | "isCharacterDevice" | "isDirectory"
  >,
): string {
  if (stats.isSymbolicLink()) return "a symbolic link";
  if (stats.isFIFO()) return "a FIFO (named pipe)";
  if (stats.isSocket()) return "a socket";
  if (stats.isBlockDevice() || stats.isCharacterDevice()) return "a device";
  if (stats.isDirectory()) return "a folder";
  return "not a regular file";
}

function unsafe(path: string, what: string): ProtocolError {
  return new ProtocolError(
    "unsafe_file",
    `${path} is ${what}, not a regular file; queue files are read only as regular files, never through ` +
      "links or special files: replace it with the real file or remove it",
    { path },
  );
}

/**
 * Whether two stats name the same file. Windows reports inode 0 on some filesystems (FAT, some network
 * shares): there the creation time stands in for it, which still tells a swapped-in file apart.
 */
export function sameFile(a: BigIntStats, b: BigIntStats): boolean {
  if (a.dev !== b.dev) return false;
  if (a.ino !== 0n && b.ino !== 0n) return a.ino === b.ino;
  return a.birthtimeNs === b.birthtimeNs;
}

/** Whether `path` is `root` or inside it (both real paths); only a ".." segment leads out, not "..name". */
export function isInsideFolder(root: string, path: string): boolean {
  const rel = relative(root, path);
  return !(rel === ".." || rel.startsWith(`..${sep}`) || isAbsolute(rel));
}

/**
 * lstat of a path that must be a regular file: a link or special file is a ProtocolError
 * (`unsafe_file`) naming what it is; ENOENT and other fs errors pass through unchanged.
 */
export async function lstatRegularFile(path: string): Promise<BigIntStats> {
  const stats = await lstat(path, { bigint: true });
  if (!stats.isFile()) throw unsafe(path, describeFileKind(stats));
  return stats;
}

/**
 * A writer renaming a new version over the file between the lstat and the open (writeFileAtomic does
 * exactly that) is no attack: the check simply runs again on the new file, this many times at most.
 */
const OPEN_ATTEMPTS = 5;

/**
 * Opens a regular file for reading, never following a link and never opening a FIFO or device; the
 * returned handle is verified to be the file that was checked. ENOENT passes through as an fs error.
 */
export async function openRegularFile(path: string, options: OpenRegularOptions = {}): Promise<FileHandle> {
  for (let attempt = 1; ; attempt++) {
    const before = await lstatRegularFile(path);
    let handle: FileHandle;
    try {
      handle = await open(path, constants.O_RDONLY | NOFOLLOW | NONBLOCK);
    } catch (error) {
      // ELOOP: the file became a link between the lstat and the open.
      if (errnoCode(error) === "ELOOP") throw unsafe(path, "a symbolic link");
      throw error;
    }
    try {
      const opened = await handle.stat({ bigint: true });
      if (!opened.isFile()) throw unsafe(path, describeFileKind(opened));
      // With O_NOFOLLOW the handle cannot be a link's target, and fstat proved it a regular file: a
      // writer's atomic rename between the lstat and the open (a rewrite many times a second) is benign.
      // Without it (Windows) the open may have followed a link swapped in, so identity must match.
      if (NOFOLLOW === 0 && !sameFile(before, opened)) {
        // Replaced meanwhile: check the new file from the start (Windows, without O_NOFOLLOW, lands here
        // when a link was swapped in, and the next lstat refuses it).
        if (attempt < OPEN_ATTEMPTS) {
          await handle.close();
          continue;
        }
        throw unsafe(path, "a file that kept being replaced while it was being opened");
      }
      if (options.within !== undefined) await assertWithin(path, options.within, opened);
      return handle;
    } catch (error) {
      await handle.close();
      throw error;
    }
  }
}

async function assertWithin(path: string, within: string, opened: BigIntStats): Promise<void> {
  const [root, real] = await Promise.all([realpath(within), realpath(path)]);
  if (!isInsideFolder(root, real)) {
    throw unsafe(path, `reached through a linked folder (it really is ${real}, outside ${within})`);
  }
  // The real path must still name the opened file: a folder swapped back after the open is caught here.
  const there = await lstat(real, { bigint: true });
  if (!sameFile(there, opened)) {
    throw unsafe(path, "a file whose folder was swapped for a link while it was being opened");
  }
}
