import { stat } from "node:fs/promises";
import { join } from "node:path";
import type { FSWatcher } from "chokidar";
import { watch } from "chokidar";
import type { FileEntry } from "../../protocol/index.ts";
import { checkJobPath } from "../../protocol/index.ts";

export interface JobWatchHandlers {
  /** Skips temp files and Syncthing artefacts, as the inbox watch does. */
  ignored: (path: string) => boolean;
  /** Something changed in one of the job's watched folders. */
  onChange(jobId: string): void;
  /** The job's folder is now watched: anything earlier must be read, not waited for. */
  onReady(jobId: string): void;
  onError(jobId: string, error: Error): void;
}

interface JobWatch {
  watcher: FSWatcher;
  /** Absolute folders watched so far: the job folder, then result folders still being synced. */
  dirs: Set<string>;
}

/**
 * Shallow watches over the inbox/<id>/ folders of jobs whose outcome is still open. One chokidar
 * watcher per job, closed once the job is decided: chokidar's unwatch() keeps every unwatched path as
 * an ignore rule it compares each event against (and scans on every unwatch), which grows without end
 * over a queue's life, while close() frees everything.
 */
export class JobWatches {
  readonly #inbox: string;
  readonly #handlers: JobWatchHandlers;
  readonly #watches = new Map<string, JobWatch>();
  /** After closeAll() nothing new is watched (a check still running when the engine stopped). */
  #closed = false;

  constructor(inboxDir: string, handlers: JobWatchHandlers) {
    this.#inbox = inboxDir;
    this.#handlers = handlers;
  }

  get count(): number {
    return this.#watches.size;
  }

  has(jobId: string): boolean {
    return this.#watches.has(jobId);
  }

  ids(): string[] {
    return [...this.#watches.keys()];
  }

  /** Watches inbox/<id>/ itself (depth 0); onReady fires once the watch is live. */
  watch(jobId: string): void {
    if (this.#closed || this.#watches.has(jobId)) return;
    const dir = join(this.#inbox, jobId);
    const watcher = watch(dir, { depth: 0, ignoreInitial: true, ignored: this.#handlers.ignored });
    watcher.on("all", () => this.#handlers.onChange(jobId));
    watcher.on("error", (error) => this.#handlers.onError(jobId, error as Error));
    watcher.once("ready", () => {
      if (this.#watches.get(jobId)?.watcher === watcher) this.#handlers.onReady(jobId);
    });
    this.#watches.set(jobId, { watcher, dirs: new Set([dir]) });
  }

  /**
   * Also watches the existing folders below inbox/<id>/ that hold (or lead to) result files still
   * being synced, so a result file landing there is seen. Folders not there yet are seen appearing in
   * their watched parent and added on the next call. True when a folder was added: files may have
   * landed in it before its watch was live, so the caller reads the job again.
   */
  async watchResultDirs(jobId: string, manifest: readonly FileEntry[]): Promise<boolean> {
    const entry = this.#watches.get(jobId);
    if (!entry) return false;
    const jobDir = join(this.#inbox, jobId);
    let added = false;
    for (const relative of resultDirs(manifest)) {
      const dir = join(jobDir, ...relative.split("/"));
      if (entry.dirs.has(dir) || !(await isDirectory(dir))) continue;
      // The job may have been decided (and its watch closed) while this awaited.
      if (this.#watches.get(jobId) !== entry) return false;
      entry.watcher.add(dir);
      entry.dirs.add(dir);
      added = true;
    }
    return added;
  }

  async unwatch(jobId: string): Promise<void> {
    const entry = this.#watches.get(jobId);
    if (!entry) return;
    this.#watches.delete(jobId);
    await entry.watcher.close();
  }

  async closeAll(): Promise<void> {
    this.#closed = true;
    const entries = [...this.#watches.values()];
    this.#watches.clear();
    await Promise.all(entries.map((entry) => entry.watcher.close()));
  }
}

/** Every folder (relative, "/"-separated) on the way to a result file, e.g. 3_results and 3_results/plots. */
export function resultDirs(manifest: readonly FileEntry[]): string[] {
  const dirs = new Set<string>();
  for (const { path } of manifest) {
    if (checkJobPath(path) !== undefined) continue;
    const parts = path.split("/").slice(0, -1);
    for (let depth = 1; depth <= parts.length; depth++) dirs.add(parts.slice(0, depth).join("/"));
  }
  // Parents first, so a parent is watched before its children are looked for.
  return [...dirs].sort((a, b) => a.split("/").length - b.split("/").length);
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}
