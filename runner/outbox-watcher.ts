import { existsSync } from "node:fs";
import { readdir } from "node:fs/promises";
import path from "node:path";
import { watch } from "chokidar";
import { CANCEL_DIR } from "../protocol/index.ts";
import type { RunnerPaths } from "./paths.ts";

export interface WatchHandlers {
  /** Something changed at outbox/<name> (a job folder appeared, vanished or was touched). */
  onEntry(name: string): void;
  /** outbox/.cancel/<jobId>.json appeared or changed. */
  onCancel(jobId: string): void;
  /**
   * Periodic safety net: files inside a job folder are watched only while that job waits for them and
   * a watch is free (arrival-watches.ts), so each rescan looks at everything.
   */
  onRescan(): void;
  onError(error: unknown): void;
}

/** When outbox/.cancel/ appears, it is listed again after these delays (see watchOutbox). */
const CANCEL_RELIST_MS = [250, 1000, 3000];

export interface OutboxWatcher {
  close(): Promise<void>;
}

/** Maps a watch event's path to what it is about; undefined for anything else. */
export function classifyOutboxPath(
  outbox: string,
  changed: string,
): { entry: string } | { cancel: string } | undefined {
  const relative = path.relative(outbox, changed);
  if (relative === "" || relative.startsWith("..") || path.isAbsolute(relative)) return undefined;
  const [first, second, ...rest] = relative.split(path.sep);
  if (first === undefined) return undefined;
  if (first === CANCEL_DIR) {
    if (second === undefined || rest.length > 0 || !second.endsWith(".json")) return undefined;
    return { cancel: second.slice(0, -".json".length) };
  }
  return { entry: first };
}

/**
 * Watches outbox/ and outbox/.cancel/ at their top level only: a deep watch over every job folder costs
 * handles and events for nothing once a job is taken. A job still waiting for files gets a watch of
 * its own folder (arrival-watches.ts); the rescan catches whatever no watch saw.
 */
export function watchOutbox(paths: RunnerPaths, rescanMs: number, handlers: WatchHandlers): OutboxWatcher {
  const watcher = watch(paths.queue.outbox, { depth: 0, ignoreInitial: true });
  const timers: NodeJS.Timeout[] = [];
  // chokidar never starts watching a path that was missing when it was added, and the submitting side
  // creates outbox/.cancel/ only with its first cancel request: watch it now if it is there, else when
  // it appears.
  if (existsSync(paths.queue.cancelDir)) watcher.add(paths.queue.cancelDir);
  watcher.on("all", (event, changed) => {
    if (event === "addDir" && changed === paths.queue.cancelDir) {
      watcher.add(paths.queue.cancelDir);
      // Requests that landed before the new watch is live are in no event: list the folder now, and
      // again once the watch has surely started (chokidar gives no signal for an added path).
      const list = () =>
        readdir(paths.queue.cancelDir).then((names) => {
          for (const name of names)
            if (name.endsWith(".json")) handlers.onCancel(name.slice(0, -".json".length));
        }, handlers.onError);
      void list();
      for (const delayMs of CANCEL_RELIST_MS) timers.push(setTimeout(() => void list(), delayMs));
    }
    const what = classifyOutboxPath(paths.queue.outbox, changed);
    if (!what) return;
    if ("cancel" in what) handlers.onCancel(what.cancel);
    else handlers.onEntry(what.entry);
  });
  watcher.on("error", handlers.onError);
  const timer = setInterval(handlers.onRescan, rescanMs);
  return {
    async close() {
      clearInterval(timer);
      for (const relist of timers) clearTimeout(relist);
      await watcher.close();
    },
  };
}
