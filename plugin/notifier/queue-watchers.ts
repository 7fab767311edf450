import { join } from "node:path";
import type { FSWatcher } from "chokidar";
import { watch } from "chokidar";
import type { QueuePaths } from "../../protocol/index.ts";
import {
  ATOMIC_TEMP_PREFIX,
  archivedJobId,
  isJobId,
  isSyncthingArtefact,
  pathExists,
} from "../../protocol/index.ts";
import type { JobOutcome } from "./job-outcome.ts";
import { JobWatches } from "./job-watches.ts";

export interface QueueWatchEvents {
  /** Something about the job changed: read it again (after the settle time). */
  onJob(id: string): void;
  onError(message: string): void;
  /** Whether the job is decided already (in the ledger): a decided job's folder is not watched. */
  decided(id: string): boolean;
}

/** Skips temp files and Syncthing artefacts. */
function skip(path: string): boolean {
  const name = path.slice(Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\")) + 1);
  return name.startsWith(ATOMIC_TEMP_PREFIX) || isSyncthingArtefact(name);
}

/**
 * The watches that tell the engine a job may have changed: inbox/, .state/fetched/ and archive/ at
 * depth 0, and each job folder of its own only while its outcome is open.
 */
export class QueueWatchers {
  readonly #queue: QueuePaths;
  readonly #events: QueueWatchEvents;
  readonly #jobs: JobWatches;
  #roots: FSWatcher[] = [];

  constructor(queue: QueuePaths, events: QueueWatchEvents) {
    this.#queue = queue;
    this.#events = events;
    this.#jobs = new JobWatches(queue.inbox, {
      ignored: skip,
      onChange: (id) => events.onJob(id),
      onReady: (id) => events.onJob(id),
      onError: (id, error) => events.onError(`watcher for ${id}: ${error.message}`),
    });
  }

  /** Job folders watched now: the jobs whose outcome is still open. */
  get count(): number {
    return this.#jobs.count;
  }

  /** Resolves once the root watches stand; .state/fetched/ must exist (chokidar never watches a folder missing when it starts). */
  async start(): Promise<void> {
    const { inbox: inboxDir, fetchedDir, archive: archiveDir } = this.#queue;
    const events = this.#events;
    const inbox = watch(inboxDir, { depth: 0, ignoreInitial: true, ignored: skip });
    inbox.on("all", (event, path) => {
      const id = path.slice(inboxDir.length + 1);
      if (!isJobId(id)) return;
      // chokidar never watches a folder missing when asked, so a new job's folder is watched as it
      // appears; the check its watch triggers once live reads whatever landed before that.
      if (event === "addDir" && !events.decided(id)) this.#jobs.watch(id);
      events.onJob(id);
    });
    // No await may stand between a watch() and its "ready" listener below, or "ready" can be missed.
    const fetched = watch(fetchedDir, { depth: 0, ignoreInitial: true, ignored: skip });
    fetched.on("all", (_event, path) => {
      const name = path.slice(fetchedDir.length + 1);
      if (name.endsWith(".json") && isJobId(name.slice(0, -5))) events.onJob(name.slice(0, -5));
    });
    const archive = watch(archiveDir, { depth: 0, ignoreInitial: true, ignored: skip });
    archive.on("addDir", (path) => {
      const id = archivedJobId(path.slice(archiveDir.length + 1));
      if (id) events.onJob(id);
    });
    this.#roots = [inbox, fetched, archive];
    for (const watcher of this.#roots) {
      watcher.on("error", (error) => events.onError(`watcher: ${(error as Error).message}`));
    }
    await Promise.all(this.#roots.map((watcher) => new Promise<void>((done) => watcher.once("ready", done))));
  }

  /** Watches a job's folder while its outcome is open (and its result folders while they sync); not after. */
  async follow(id: string, outcome: JobOutcome | undefined): Promise<void> {
    const jobs = this.#jobs;
    if (this.#events.decided(id)) return jobs.unwatch(id);
    if (outcome?.kind === "absent" && !(await pathExists(join(this.#queue.inbox, id))))
      return jobs.unwatch(id);
    jobs.watch(id);
    if (outcome?.kind === "syncing" && (await jobs.watchResultDirs(id, outcome.job.results?.files ?? []))) {
      this.#events.onJob(id);
    }
  }

  /** Lets go of the watches of jobs no longer in inbox/. */
  async forgetAllBut(present: ReadonlySet<string>): Promise<void> {
    for (const id of this.#jobs.ids()) if (!present.has(id)) await this.#jobs.unwatch(id);
  }

  async close(): Promise<void> {
    const roots = this.#roots;
    this.#roots = [];
    await Promise.all([...roots.map((watcher) => watcher.close()), this.#jobs.closeAll()]);
  }
}
