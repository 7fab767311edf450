import type { FSWatcher } from "node:fs";
import { watch } from "node:fs";
import { lstat } from "node:fs/promises";
import { errnoCode } from "./errors.ts";

/**
 * What a folder's own metadata says about its entries. ctime moves whenever an entry is added,
 * removed or renamed and, unlike mtime, no tool can set it back (Syncthing or a copy restoring
 * times), so an unchanged stamp proves an unchanged listing.
 */
export interface DirStamp {
  ino: string;
  ctime_ns: string;
}

/** A folder's stamp now, or undefined when it is missing. */
export async function dirStamp(dir: string): Promise<DirStamp | undefined> {
  try {
    const stats = await lstat(dir, { bigint: true });
    return { ino: stats.ino.toString(), ctime_ns: stats.ctimeNs.toString() };
  } catch (error) {
    if (errnoCode(error) === "ENOENT" || errnoCode(error) === "ENOTDIR") return undefined;
    throw error;
  }
}

/**
 * Filesystems keep ctime at a coarse clock (ext4 a few ms, FAT 2 s): an entry added in the same tick
 * as the listing that recorded the stamp leaves the stamp as it was. A stamp younger than this when
 * its listing began is not trusted next time (as git treats racily clean index entries).
 */
export const RACY_STAMP_MS = 3000;

/** The stamp to remember for a listing begun at `listedAtMs`, or undefined when it may be racy. */
export function settledStamp(stamp: DirStamp | undefined, listedAtMs: number): DirStamp | undefined {
  if (!stamp) return undefined;
  const ctimeMs = Number(BigInt(stamp.ctime_ns) / 1_000_000n);
  return listedAtMs - ctimeMs >= RACY_STAMP_MS ? stamp : undefined;
}

export function sameStamp(a: DirStamp | undefined, b: DirStamp | undefined): boolean {
  return a !== undefined && b !== undefined && a.ino === b.ino && a.ctime_ns === b.ctime_ns;
}

export interface DirWatchHandlers {
  /** An entry directly in the folder may have appeared, vanished or changed. */
  onName(name: string): void;
  /**
   * Events may have been missed (the watch failed and was set up again, or an event came without a
   * name): list the folder again.
   */
  onReset(): void;
}

export interface DirWatch {
  close(): void;
}

const REARM_MS = 1000;

/**
 * Watches one folder's direct entries with the platform's own notification (inotify on Linux,
 * ReadDirectoryChangesW on Windows), holding nothing per entry: chokidar keeps a record of every
 * entry of a watched folder (about 40 KB each here), which at 100,000 archived jobs is gigabytes.
 * Callers re-check what a name refers to; an event says only "look at this name".
 */
export function watchDir(dir: string, handlers: DirWatchHandlers): DirWatch {
  let watcher: FSWatcher | undefined;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  const arm = (after: boolean): void => {
    timer = undefined;
    if (closed) return;
    try {
      watcher = watch(dir, { persistent: true }, (_event, name) => {
        if (name === null || name === undefined) handlers.onReset();
        else handlers.onName(name.toString());
      });
      watcher.on("error", () => {
        watcher?.close();
        watcher = undefined;
        if (!closed) timer = setTimeout(() => arm(true), REARM_MS);
      });
      if (after) handlers.onReset();
    } catch {
      // The folder is missing or cannot be watched yet: try again, and list it once it can be.
      timer = setTimeout(() => arm(true), REARM_MS);
    }
  };
  arm(false);
  return {
    close() {
      closed = true;
      if (timer) clearTimeout(timer);
      watcher?.close();
    },
  };
}
