import type { BigIntStats } from "node:fs";
import { constants } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import { copyFile } from "node:fs/promises";
import { errnoCode, ProtocolError } from "./errors.ts";

/**
 * Files this large are copied by the kernel when it can: copy_file_range writes the copy without the
 * bytes passing through this process, while this process hashes the same file from its own handle
 * on the other core (1 GiB model: median 1.02 s against 1.15 s read-hash-write, paired runs).
 * Smaller files are one or two chunks, where a second open costs more than it saves.
 */
export const KERNEL_COPY_MIN_BYTES = 8 * 1024 * 1024;

/**
 * Linux only: the copy is opened through /proc/self/fd, the very file the handle verified, so a path
 * swapped for a link meanwhile is never followed. Elsewhere the copy goes through this process.
 */
export function kernelCopyPossible(size: number, platform: NodeJS.Platform = process.platform): boolean {
  return platform === "linux" && size >= KERNEL_COPY_MIN_BYTES;
}

/** What says "not this way" rather than "this file cannot be copied": copy it by hand instead. */
const FALL_BACK = new Set(["ENOENT", "EEXIST", "ENOSYS", "EXDEV", "EINVAL", "EOPNOTSUPP"]);

/**
 * Has the kernel copy the opened file to `target`, which must not exist yet (a link planted there is
 * never followed: EEXIST). Resolves false, with nothing written, when it cannot (no /proc, the target
 * exists, a filesystem without copy support): the caller then copies the bytes itself.
 */
export async function copyInKernel(input: FileHandle, target: string): Promise<boolean> {
  try {
    await copyFile(`/proc/self/fd/${input.fd}`, target, constants.COPYFILE_EXCL);
    return true;
  } catch (error) {
    if (FALL_BACK.has(errnoCode(error) ?? "")) return false;
    throw error;
  }
}

/**
 * The copy and the hash each read the file: it must not have changed between them. A write moves
 * mtime and ctime (ctime cannot be set back), a replacement moves the inode. A change in the same
 * clock tick as the first look could pass; the runner's SHA-256 check of every file at pickup then
 * refuses the job, loudly, instead of running it.
 */
export function assertUnchanged(path: string, before: BigIntStats, after: BigIntStats): void {
  if (
    before.ino === after.ino &&
    before.size === after.size &&
    before.mtimeNs === after.mtimeNs &&
    before.ctimeNs === after.ctimeNs
  )
    return;
  throw new ProtocolError(
    "unsafe_file",
    `${path} changed while it was being copied (size or modification time moved); nothing of it was kept`,
    { path },
  );
}
