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

/** What a follow's events count: job.json only, or also the listed result files (and their folders). */
interface FollowRules {
  mode: FollowMode;
  /** Manifest paths and the folders on the way to them ("/"-separated), in results mode. */
  accepted: Set<string>;
}

interface Follow {
  watcher: FSWatcher;
  rules: FollowRules;
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

  /** Follows inbox/<id>/ in `mode`; in results mode also the existing result folders (true when one was added). */
  async follow(jobId: string, mode: FollowMode, manifest: readonly FileEntry[] = []): Promise<boolean> {
    if (this.#closed) return false;
    const entry = this.#follows.get(jobId) ?? this.#start(jobId, mode);
    entry.rules.mode = mode;
    if (mode === "job") return false;
    for (const path of acceptedPaths(manifest)) entry.rules.accepted.add(path);
    return this.#addResultDirs(jobId, entry, manifest);
  }

  #start(jobId: string, mode: FollowMode): Follow {
    const dir = join(this.#inbox, jobId);
    const rules: FollowRules = { mode, accepted: new Set() };
    // Read on every event, so a follow turning from job to results mode needs no new watcher.
    const ignored = (path: string): boolean => {
      const rel = relative(dir, path).split(sep).join("/");
      if (rel === "" || rel === JOB_FILE) return false;
      return rules.mode === "job" || !rules.accepted.has(rel);
    };
    const watcher = watch(dir, { depth: 0, ignoreInitial: true, ignored });
    const follow: Follow = { watcher, rules, dirs: new Set([dir]) };
    watcher.on("all", (event, path) => {
      // A result folder removed or made again is watched anew by the next follow: its old watch may
      // have ended with it, and a quick remove-and-create can reach chokidar as an addDir alone.
      if (event === "addDir" || event === "unlinkDir") follow.dirs.delete(path);
      this.#onChange(jobId);
    });
    watcher.on("error", () => {
      // The job's next event, or its folder's addDir in inbox/, re-reads it.
    });
    watcher.once("ready", () => {
      if (this.#follows.get(jobId) === follow) this.#onChange(jobId);
    });
    this.#follows.set(jobId, follow);
    return follow;
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

  /** Ends the follow at once (ids() leaves it out from here); the promise is the watcher's close. */
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
