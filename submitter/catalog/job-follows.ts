import { lstat } from "node:fs/promises";
import { join } from "node:path";
import type { DirWatch, FileEntry } from "../../protocol/index.ts";
import { checkJobPath, JOB_FILE, watchDir } from "../../protocol/index.ts";

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

interface FolderWatch {
  watch: DirWatch;
  /** The result folder's inode when its watch was set up (none for the job folder). */
  ino?: bigint;
}

interface Follow {
  rules: FollowRules;
  /** One watch per folder, by its path in the job folder ("/"-separated, "" for the job folder). */
  watches: Map<string, FolderWatch>;
}

/** The inode of a folder, or undefined when it is not one (gone, or a file now). */
async function folderIno(dir: string): Promise<bigint | undefined> {
  try {
    const stats = await lstat(dir, { bigint: true });
    return stats.isDirectory() ? stats.ino : undefined;
  } catch {
    return undefined;
  }
}

function counts(rules: FollowRules, path: string): boolean {
  return path === JOB_FILE || (rules.mode === "results" && rules.accepted.has(path));
}

/**
 * Shallow watches over the inbox/<id>/ folders still worth following: the job folder, and in results
 * mode each result folder once it exists, closed when the follow ends. Each is a plain fs.watch
 * (protocol/dir-watch.ts), holding nothing per entry: a mixed queue of 100,000 has 6,667 live jobs,
 * and a chokidar watcher each kept their folders' entries in memory. Only job.json counts in job
 * mode (a growing stdout.log is no change of the job); in results mode the listed result files too.
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
    const follow: Follow = { rules: { mode, accepted: new Set() }, watches: new Map() };
    this.#follows.set(jobId, follow);
    this.#watch(jobId, follow, "");
    // Reported after the read that started the follow is stored, so it reads once more, not never.
    setImmediate(() => {
      if (this.#follows.get(jobId) === follow) this.#onChange(jobId);
    });
    return follow;
  }

  #watch(jobId: string, follow: Follow, folder: string, ino?: bigint): void {
    const watch = watchDir(this.#dir(jobId, folder), {
      onName: (name) => {
        const path = folder === "" ? name : `${folder}/${name}`;
        if (!counts(follow.rules, path)) return;
        this.#onChange(jobId);
        if (follow.watches.has(path)) void this.#recheck(jobId, follow, path);
      },
      onReset: () => this.#onChange(jobId),
    });
    follow.watches.set(folder, ino === undefined ? { watch } : { watch, ino });
  }

  #dir(jobId: string, folder: string): string {
    return join(this.#inbox, jobId, ...(folder === "" ? [] : folder.split("/")));
  }

  /**
   * An event named a watched result folder: on Windows that is every file landing in it (its
   * last-write time), elsewhere its removal or replacement. Only a folder that is gone or another
   * one loses its watch, and the folders below it theirs: they ended with it, or moved away with it.
   * The job is read again, so the follow that read makes sets up whatever exists now.
   */
  async #recheck(jobId: string, follow: Follow, path: string): Promise<void> {
    const known = follow.watches.get(path);
    if (!known || (await folderIno(this.#dir(jobId, path))) === known.ino) return;
    if (this.#follows.get(jobId) !== follow || follow.watches.get(path) !== known) return;
    for (const [folder, held] of follow.watches) {
      if (folder !== path && !folder.startsWith(`${path}/`)) continue;
      held.watch.close();
      follow.watches.delete(folder);
    }
    this.#onChange(jobId);
  }

  async #addResultDirs(jobId: string, entry: Follow, manifest: readonly FileEntry[]): Promise<boolean> {
    let added = false;
    for (const folder of resultDirs(manifest)) {
      if (entry.watches.has(folder)) continue;
      const ino = await folderIno(this.#dir(jobId, folder));
      if (ino === undefined) continue;
      // The follow may have ended, or another call added the folder, while this awaited.
      if (this.#follows.get(jobId) !== entry || entry.watches.has(folder)) continue;
      this.#watch(jobId, entry, folder, ino);
      added = true;
    }
    return added;
  }

  /** Ends the follow at once (ids() leaves it out from here). */
  async unfollow(jobId: string): Promise<void> {
    const entry = this.#follows.get(jobId);
    if (!entry) return;
    this.#follows.delete(jobId);
    close(entry);
  }

  async closeAll(): Promise<void> {
    this.#closed = true;
    for (const entry of this.#follows.values()) close(entry);
    this.#follows.clear();
  }
}

function close(entry: Follow): void {
  for (const { watch } of entry.watches.values()) watch.close();
  entry.watches.clear();
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
