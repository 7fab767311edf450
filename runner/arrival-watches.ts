import path from "node:path";
import type { FSWatcher } from "chokidar";
import { watch } from "chokidar";
import { ATOMIC_TEMP_PREFIX, ATOMIC_TEMP_SUFFIX, syncthingTempTarget } from "../protocol/index.ts";

/**
 * An event after a quiet spell is looked at at once: the model file that lands seconds after the rest
 * is the common last file, and it should start the job without delay. Events closer together than
 * this wait for a pause: Syncthing lands a job's small files milliseconds apart, and one look at 500
 * of them beats 500 looks.
 */
export const ARRIVAL_QUIET_MS = 100;
/** Longest a look is put off while events keep coming (a file rewritten in place, many files). */
export const ARRIVAL_MAX_DELAY_MS = 1_000;

export interface ArrivalWatchOptions {
  /** outbox/: the folder holding the job folders. */
  outbox: string;
  /** Most job folders watched at once (see docs/runner.md); 0 leaves every job to the rescan. */
  limit: number;
  quietMs?: number;
  maxDelayMs?: number;
  /** Looks at the job again (its intake, in its serial lane). */
  recheck(jobId: string): Promise<void>;
  /** The job waits unwatched because `limit` folders are watched; called once per job. */
  onLimit(jobId: string, limit: number): void;
  onError(jobId: string, error: unknown): void;
  /** path.win32 in tests of Windows paths; the platform's own otherwise. */
  pathApi?: Pick<typeof path.posix, "join" | "basename">;
}

export interface ArrivalWatches {
  /** Watches the job's folder while `waiting` is true; stops watching it as soon as it is false. */
  follow(jobId: string, waiting: boolean): void;
  /** Jobs whose folders are watched now, sorted. */
  ids(): string[];
  /** Stops every watch; nothing is watched or re-checked afterwards. */
  close(): Promise<void>;
}

function isTempName(name: string): boolean {
  return (
    syncthingTempTarget(name) !== undefined ||
    (name.startsWith(ATOMIC_TEMP_PREFIX) && name.endsWith(ATOMIC_TEMP_SUFFIX))
  );
}

/**
 * Whether a watch event inside a job folder can change what intake decides. A temp file being
 * written or appearing cannot (the job is still arriving either way), so the writes of a 30 MB model
 * cause no looks; its rename into place is an event on the real name. A temp file going away without
 * a rename (Syncthing gave up, or cleaned it) can, because intake waits while one is there.
 */
export function isArrivalEvent(
  event: string,
  changed: string,
  pathApi: Pick<typeof path.posix, "basename"> = path,
): boolean {
  if (!isTempName(pathApi.basename(changed))) return true;
  return event === "unlink";
}

interface Entry {
  watcher: FSWatcher;
  timer?: NodeJS.Timeout;
  /** performance.now() of the first event not yet answered by a look. */
  firstEventAt?: number;
  /** performance.now() when the last look began. */
  lastLookAt: number;
  checking: boolean;
  again: boolean;
}

/**
 * One shallow-lived chokidar watcher per job that intake is waiting for, over that job's folder and
 * its subfolders, closed as soon as the job is accepted, refused or gone. One watcher per job rather
 * than add()/unwatch() on a shared one: chokidar keeps every unwatched path as an ignore rule.
 */
export function createArrivalWatches(options: ArrivalWatchOptions): ArrivalWatches {
  const pathApi = options.pathApi ?? path;
  const quietMs = options.quietMs ?? ARRIVAL_QUIET_MS;
  const maxDelayMs = options.maxDelayMs ?? ARRIVAL_MAX_DELAY_MS;
  const entries = new Map<string, Entry>();
  /** Waiting jobs refused a watch by the limit, oldest first: they get the next free one. */
  const unwatched = new Set<string>();
  const closing = new Set<Promise<void>>();
  let closed = false;

  const look = (jobId: string, entry: Entry): void => {
    entry.timer = undefined;
    entry.firstEventAt = undefined;
    entry.lastLookAt = performance.now();
    if (entry.checking) {
      entry.again = true;
      return;
    }
    entry.checking = true;
    options
      .recheck(jobId)
      .catch((error: unknown) => options.onError(jobId, error))
      .finally(() => {
        entry.checking = false;
        if (entry.again && entries.get(jobId) === entry) {
          entry.again = false;
          look(jobId, entry);
        }
      });
  };

  const schedule = (jobId: string, entry: Entry): void => {
    if (entries.get(jobId) !== entry) return;
    const now = performance.now();
    if (entry.timer === undefined && now - entry.lastLookAt >= quietMs) {
      look(jobId, entry);
      return;
    }
    entry.firstEventAt ??= now;
    clearTimeout(entry.timer);
    const delay = Math.max(0, Math.min(quietMs, entry.firstEventAt + maxDelayMs - now));
    entry.timer = setTimeout(() => look(jobId, entry), delay);
  };

  const start = (jobId: string): void => {
    const watcher = watch(pathApi.join(options.outbox, jobId), {
      ignoreInitial: true,
      // A link is never a job file; following one would watch (and report) a folder outside the job.
      followSymlinks: false,
    });
    const entry: Entry = { watcher, lastLookAt: -Infinity, checking: false, again: false };
    entries.set(jobId, entry);
    watcher.on("all", (event, changed) => {
      if (isArrivalEvent(event, changed, pathApi)) schedule(jobId, entry);
    });
    watcher.on("error", (error) => options.onError(jobId, error));
    // Files that landed between intake's look and the watch going live raise no event: look once more.
    watcher.once("ready", () => schedule(jobId, entry));
  };

  const stop = (jobId: string): void => {
    const entry = entries.get(jobId);
    if (!entry) return;
    entries.delete(jobId);
    clearTimeout(entry.timer);
    const done = entry.watcher.close().catch((error: unknown) => options.onError(jobId, error));
    closing.add(done);
    void done.finally(() => closing.delete(done));
    // A watch is free: the job that has waited longest without one gets it (and a look once it is live).
    const next = unwatched.values().next().value;
    if (next !== undefined && !closed) {
      unwatched.delete(next);
      start(next);
    }
  };

  return {
    follow(jobId, waiting) {
      if (!waiting) {
        unwatched.delete(jobId);
        stop(jobId);
        return;
      }
      if (closed || options.limit === 0 || entries.has(jobId)) return;
      if (entries.size >= options.limit) {
        if (!unwatched.has(jobId)) {
          unwatched.add(jobId);
          options.onLimit(jobId, options.limit);
        }
        return;
      }
      unwatched.delete(jobId);
      start(jobId);
    },
    ids: () => [...entries.keys()].sort(),
    async close() {
      closed = true;
      unwatched.clear();
      for (const jobId of [...entries.keys()]) stop(jobId);
      await Promise.all([...closing]);
    },
  };
}
