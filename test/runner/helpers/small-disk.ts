import { execFileSync } from "node:child_process";
import { mkdir, readdir, rm, statfs, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";

/** A full disk cannot be faked honestly: these are real small file systems (tmpfs), mountable as root. */
export function canMount(): boolean {
  if (process.getuid?.() !== 0) return false;
  const probe = path.join(tmpdir(), `atomizer-mount-probe-${process.pid}`);
  try {
    execFileSync("mkdir", ["-p", probe]);
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", probe]);
    execFileSync("umount", [probe]);
    return true;
  } catch {
    return false;
  } finally {
    execFileSync("rm", ["-rf", probe]);
  }
}

/** Mounts a tmpfs of `size` at `dir` (created); push `dir` to `mounts` so unmountAll() takes it down. */
export async function mountSmallDisk(dir: string, size: string, mounts: string[]): Promise<string> {
  await mkdir(dir, { recursive: true });
  execFileSync("mount", ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", dir]);
  mounts.push(dir);
  return dir;
}

export function unmountAll(mounts: string[]): void {
  for (const dir of mounts.splice(0).reverse()) execFileSync("umount", ["-l", dir]);
}

/** Fills a disk to the last few KiB; returns the filler to delete when space should return. */
export async function fill(dir: string): Promise<string> {
  const filler = path.join(dir, "filler.bin");
  const { bavail, bsize } = await statfs(dir);
  await writeFile(filler, Buffer.alloc(Math.max(0, bavail * bsize - 8 * 1024)));
  // tmpfs rounds to pages: top it up until nothing more fits.
  for (let i = 0; i < 64; i++) {
    try {
      await writeFile(path.join(dir, `filler-${i}.bin`), Buffer.alloc(4096));
    } catch {
      break;
    }
  }
  return filler;
}

export async function unfill(dir: string): Promise<void> {
  for (const name of await readdir(dir)) if (name.startsWith("filler")) await rm(path.join(dir, name));
}
