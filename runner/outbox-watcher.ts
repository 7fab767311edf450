import { readdir } from "node:fs/promises";
import { CANCEL_DIR, errnoCode, watchDir } from "../protocol/index.ts";
import type { RunnerPaths } from "./paths.ts";

export interface WatchHandlers {
  /** Something changed at outbox/<name> (a job folder appeared, vanished or was touched). */
  onEntry(name: string): void;
  /** outbox/.cancel/<jobId>.json appeared or changed. */
  onCancel(jobId: string): void;
  /**
   * The safety net, periodically and whenever a watch may have missed events: files inside a job folder
   * are watched only while that job waits for them and a watch is free (arrival-watches.ts).
   */
  onRescan(): void;
  onError(error: unknown): void;
}

export interface OutboxWatcher {
  close(): Promise<void>;
}

const CANCEL_SUFFIX = ".json";

/**
 * Watches outbox/ and outbox/.cancel/ at their top level only, with the platform's own notification
 * (watchDir): nothing is held per entry, so an outbox of 100,000 job folders costs what an empty one
 * does. A job still waiting for files gets a watch of its own folder (arrival-watches.ts); the rescan
 * catches whatever no watch saw. The submitting side creates outbox/.cancel/ only with its first
 * cancel request: its watch is set up once it appears, and it is listed then.
 */
export function watchOutbox(paths: RunnerPaths, rescanMs: number, handlers: WatchHandlers): OutboxWatcher {
  const cancelOf = (name: string): void => {
    if (name.endsWith(CANCEL_SUFFIX)) handlers.onCancel(name.slice(0, -CANCEL_SUFFIX.length));
  };
  const listCancels = (): void => {
    readdir(paths.queue.cancelDir).then(
      (names) => {
        for (const name of names) cancelOf(name);
      },
      (error: unknown) => {
        if (errnoCode(error) !== "ENOENT") handlers.onError(error);
      },
    );
  };
  const outbox = watchDir(paths.queue.outbox, {
    onName: (name) => {
      // Requests that land before .cancel/'s own watch is set up are in no event of it: list it now.
      if (name === CANCEL_DIR) listCancels();
      else handlers.onEntry(name);
    },
    onReset: handlers.onRescan,
  });
  const cancels = watchDir(paths.queue.cancelDir, { onName: cancelOf, onReset: listCancels });
  const timer = setInterval(handlers.onRescan, rescanMs);
  return {
    async close() {
      clearInterval(timer);
      outbox.close();
      cancels.close();
    },
  };
}
