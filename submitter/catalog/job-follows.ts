import { join, relative, sep } from "node:path";
import type { FSWatcher } from "chokidar";
import { watch } from "chokidar";
import type { FileEntry } from "../../protocol/index.ts";
import { checkJobPath, JOB_FILE } from "../../protocol/index.ts";
import { isDirectory } from "./queue-scan.ts";

/**
 * Why a job's inbox/<id>/ is followed:
 * - job: its job.json is not final yet (absent, invalid, submitted, queued or running): Syncthing
 *   creates the folder first and the runner rewrites job.json in place on every heartbeat;
 * - results: job.json is final but result files listed in its manifest are still arriving.
 */
export type FollowMode = "job" | "results";

interface Follow {
  watcher: FSWatcher;
  mode: FollowMode;
  /** Manifest paths and the folders on the way to them ("/"-separated), in results mode. */
  accepted: Set<string>;
  /** Absolute folders watched so far: the job folder, then result folders being delivered. */
  dirs: Set<string>;
}

/**
 * Shallow watches over the inbox/<id>/ folders still worth following, one chokidar watcher per job,
 * closed once it is not: chokidar's unwatch() keeps every unwatched path as an ignore rule it compares
 * each event against, which grows without end over a queue's life, while close() frees everything.
 * Only job.json counts in job mode (a growing stdout.log is no change of the job); in results mode the
 * listed result files too.
 */
export class JobFollows {
  readonly #inbox: string;
  readonly #onChange: (jobId: string) => void;
  readonly #follows = new Map<string, Follow>();
  #closed = false;

  /** `onChange` also fires once a new watch is live: anything that landed before must be read. */
  constructor(inboxDir: string, onChange: (jobId: string) => void) {
    this.#inbox = inboxDir;
    this.#onChange = onChange;
  }

  ids(): string[] {
    return [...this.#follows.keys()].sort();
  }

  has(jobId: string): boolean {
    return this.#follows.has(jobId);
  }

  /** Follows inbox/<id>/ in `mode`; in results mode also the existing result folders (true when one was added). */
  async follow(jobId: string, mode: FollowMode, manifest: readonly FileEntry[] = []): Promise<boolean> {
    if (this.#closed) return false;
    let entry = this.#follows.get(jobId);
    if (!entry) {
      const dir = join(this.#inbox, jobId);
      const created: Follow = {
        watcher: undefined as never,
        mode,
        accepted: new Set(),
        dirs: new Set([dir]),
      };
      const ignored = (path: string): boolean => {
        const rel = relative(dir, path).split(sep).join("/");
        if (rel === "" || rel === JOB_FILE) return false;
        return created.mode === "job" || !created.accepted.has(rel);
      };
      created.watcher = watch(dir, { depth: 0, ignoreInitial: true, ignored });
      created.watcher.on("all", (event, path) => {
        // A result folder removed or made again is watched anew by the next follow: its old watch may
        // have ended with it, and a quick remove-and-create can reach chokidar as an addDir alone.
        if (event === "addDir" || event === "unlinkDir") created.dirs.delete(path);
        this.#onChange(jobId);
      });
      created.watcher.on("error", () => {
        // The job's next event, or its folder's addDir in inbox/, re-reads it.
      });
      created.watcher.once("ready", () => {
        if (this.#follows.get(jobId) === created) this.#onChange(jobId);
      });
      this.#follows.set(jobId, created);
      entry = created;
    }
    entry.mode = mode;
    if (mode === "job") return false;
    for (const path of acceptedPaths(manifest)) entry.accepted.add(path);
    return this.#addResultDirs(jobId, entry, manifest);
  }

  async #addResultDirs(jobId: string, entry: Follow, manifest: readonly FileEntry[]): Promise<boolean> {
    const jobDir = join(this.#inbox, jobId);
    let added = false;
    for (const relativeDir of resultDirs(manifest)) {
      const dir = join(jobDir, ...relativeDir.split("/"));
      if (entry.dirs.has(dir) || !(await isDirectory(dir).catch(() => false))) continue;
      // The follow may have ended while this awaited.
      if (this.#follows.get(jobId) !== entry) return false;
      entry.watcher.add(dir);
      entry.dirs.add(dir);
      added = true;
    }
    return added;
  }

  /** Ends the follow at once (has() is false from here); the promise is the watcher's close. */
  async unfollow(jobId: string): Promise<void> {
    const entry = this.#follows.get(jobId);
    if (!entry) return;
    this.#follows.delete(jobId);
    await entry.watcher.close().catch(() => undefined);
  }

  async closeAll(): Promise<void> {
    this.#closed = true;
    const entries = [...this.#follows.values()];
    this.#follows.clear();
    await Promise.all(entries.map((entry) => entry.watcher.close()));
  }
}

/** Every folder (relative, "/"-separated) on the way to a result file, parents first. */
export function resultDirs(manifest: readonly FileEntry[]): string[] {
  const dirs = new Set<string>();
  for (const { path } of manifest) {
    if (checkJobPath(path) !== undefined) continue;
    const parts = path.split("/").slice(0, -1);
    for (let depth = 1; depth <= parts.length; depth++) dirs.add(parts.slice(0, depth).join("/"));
  }
  return [...dirs].sort((a, b) => a.split("/").length - b.split("/").length);
}

function acceptedPaths(manifest: readonly FileEntry[]): string[] {
  const valid = manifest.filter((entry) => checkJobPath(entry.path) === undefined).map((entry) => entry.path);
  return [...valid, ...resultDirs(manifest)];
}
