import { join } from "node:path";
import type { DirWatch, QueuePaths } from "../../protocol/index.ts";
import { listArchiveDirs, parseArchiveDirName } from "../../protocol/index.ts";
import type { VerificationCache } from "../jobs/results-check.ts";
import { CatalogListeners } from "./catalog-listeners.ts";
import { EmittedChanges } from "./emitted-changes.ts";
import type { ReconcileProgress, ReconcileTarget } from "./index-reconcile.ts";
import { reconcileQueue, reconcileRoot } from "./index-reconcile.ts";
import type { IndexStore, RootName } from "./index-store.ts";
import type { CatalogChange, CatalogEvent, CatalogListener, CatalogRow } from "./job-catalog.ts";
import { JobFollows } from "./job-follows.ts";
import { JobReader } from "./job-reader.ts";
import { isDirectory } from "./queue-scan.ts";
import { ResultsTracker } from "./results-follow.ts";
import type { RootEntry } from "./root-watch.ts";
import { watchQueueRoots, watchReceipts } from "./root-watch.ts";
import { unknownRow } from "./row-summary.ts";

export interface JobIndexOptions {
  /** Track one job only (the CLI's wait): no listing of the queue, no watch of other jobs. */
  only?: string;
  /** Watch the folders (a long-running server) or only bring the index up to date once (a CLI call). */
  watch?: boolean;
  /** How often the roots' stamps are looked at, as a safety net under the watches (default 60 s). */
  rescanMs?: number;
}

const DEFAULT_RESCAN_MS = 60_000;

/**
 * Every job's list row, kept in the persistent index (index-store.ts) rather than in memory, and
 * kept current by watches. Start-up reads only what changed since the index was last written
 * (index-reconcile.ts). Each observed change takes the next value of the index's counter; cursors
 * are "<instance>.<counter>" and survive restarts.
 *
 * Watching costs one inotify watch per watched folder, so only folders whose contents can still
 * change something are watched: outbox/, inbox/ and archive/ themselves (root-watch.ts), and
 * inbox/<id>/ while its job.json is not final or its results are still arriving (job-follows.ts).
 */
export class JobIndex {
  readonly #queue: QueuePaths;
  readonly #store: IndexStore;
  readonly #only: string | undefined;
  readonly #watch: boolean;
  readonly #rescanMs: number;
  readonly #listeners = new CatalogListeners();
  readonly #follows: JobFollows;
  readonly #results: ResultsTracker;
  readonly #reader: JobReader;
  #watches: DirWatch[] = [];
  #receipts: Promise<DirWatch> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #ready: Promise<void> | undefined;
  #closed = false;
  /** The live jobs a start read after answering (index-reconcile.ts), until done. */
  #rest: Promise<void> = Promise.resolve();
  #built = false;
  readonly #progress: ReconcileProgress = { planned: 0, read: 0 };

  constructor(
    queue: QueuePaths,
    store: IndexStore,
    verification: VerificationCache,
    options: JobIndexOptions = {},
  ) {
    this.#queue = queue;
    this.#store = store;
    this.#only = options.only;
    this.#watch = options.watch ?? true;
    this.#rescanMs = options.rescanMs ?? DEFAULT_RESCAN_MS;
    this.#results = new ResultsTracker(verification);
    this.#follows = new JobFollows(queue.inbox, (jobId) => void this.refresh(jobId));
    this.#reader = new JobReader({
      queue,
      store,
      results: this.#results,
      emitted: new EmittedChanges(store.counter()),
      followDeps: {
        inboxDir: queue.inbox,
        results: this.#results,
        follows: this.#watch ? this.#follows : undefined,
        settled: (jobId) => store.settled(jobId),
        refresh: (jobId) => void this.refresh(jobId),
      },
      emit: (event) => this.#emit(event),
      closed: () => this.#closed,
    });
  }

  get store(): IndexStore {
    return this.#store;
  }

  get counter(): number {
    return this.#store.counter();
  }

  /** Starts the watches, then reads what changed; events meanwhile just cause another (idempotent) read. */
  start(): Promise<void> {
    // A start that failed (the index locked too long, a folder unreadable) is tried again next time.
    this.#ready ??= this.#start().catch((error: unknown) => {
      this.#ready = undefined;
      throw error;
    });
    return this.#ready;
  }

  async #start(): Promise<void> {
    if (this.#watch)
      this.#watches = watchQueueRoots(this.#queue, this.#only, {
        onEntry: (entry) => this.#onRootEntry(entry),
        onReset: (root) => void this.#rescan(root, true),
      });
    if (this.#only !== undefined) {
      for (const dir of await listArchiveDirs(this.#queue.archive))
        if (dir.job_id === this.#only) this.#noteArchive(dir.job_id, dir.name);
      await this.refresh(this.#only);
      this.#built = true;
      return;
    }
    // A one-shot command reads every live job before it answers: it has nothing to serve meanwhile.
    const { rest } = await reconcileQueue(
      this.#target(),
      false,
      this.#watch ? undefined : Number.POSITIVE_INFINITY,
    );
    this.#rest = rest.catch(() => undefined);
    this.#built = true;
    if (this.#watch) {
      this.#timer = setInterval(() => void this.#rescanAll(), this.#rescanMs);
      this.#timer.unref();
    }
  }

  #target(): ReconcileTarget {
    return {
      queue: this.#queue,
      store: this.#store,
      readMany: (ids, names) => this.readMany(ids, names),
      progress: this.#progress,
      closed: () => this.#closed,
    };
  }

  /** What the first reconcile read (the live jobs read while serving too, once `settled` resolves). */
  get lastBuild(): ReconcileProgress {
    return { ...this.#progress };
  }

  /** Resolves once a start has also read the live jobs it left for after answering. */
  async settled(): Promise<void> {
    await this.start();
    await this.#rest;
  }

  /** While the first reconcile runs: how many jobs it has read of those it found to read. */
  get building(): ReconcileProgress | undefined {
    return this.#built ? undefined : { ...this.#progress };
  }

  async #rescan(root: RootName, force: boolean): Promise<void> {
    if (this.#closed || this.#only !== undefined) return;
    try {
      const outcome = await reconcileRoot(this.#target(), root, force);
      if (root === "archive") for (const name of outcome.added) this.#onArchiveAdded(name);
    } catch {
      // A folder locked or vanished mid-listing: the next rescan lists it again.
    }
  }

  async #rescanAll(): Promise<void> {
    for (const root of ["outbox", "inbox", "archive"] as const) await this.#rescan(root, false);
  }

  #onArchiveAdded(name: string): void {
    const jobId = parseArchiveDirName(name)?.job_id;
    if (jobId) this.#emitAbout(jobId, "archived");
  }

  #onRootEntry({ root, name, jobId }: RootEntry): void {
    if (root !== "archive") {
      void this.refresh(jobId);
      return;
    }
    // An archive folder is published whole by rename: present means complete.
    void isDirectory(join(this.#queue.archive, name))
      .then(async (present) => {
        if (present) this.#noteArchive(jobId, name);
        await this.refresh(jobId);
        if (present) this.#emitAbout(jobId, "archived");
      })
      .catch(() => undefined);
  }

  /** Reports fetch receipts from now on (a watch of .state/fetched/ the MCP server does not need). */
  async watchReceipts(): Promise<void> {
    this.#receipts ??= watchReceipts(this.#queue.fetchedDir, (jobId) => this.#emitAbout(jobId, "fetched"));
    await this.#receipts;
  }

  /** Jobs whose inbox/<id>/ is followed (not final yet, or results still arriving), sorted. */
  watchedInboxIds(): string[] {
    return this.#follows.ids();
  }

  /** Records an archive folder (from archive_job right after publishing it). */
  noteArchiveDir(name: string, jobId: string): void {
    this.#noteArchive(jobId, name);
  }

  /** A `get` found this job's results not verifying: follow its folder until they do. */
  noteResultsSyncing(jobId: string): Promise<void> {
    if (this.#results.isSyncing(jobId)) return Promise.resolve();
    this.#results.markSyncing(jobId);
    return this.refresh(jobId);
  }

  /**
   * Re-reads one job's job.json files and updates its row; concurrent calls for one job coalesce into
   * one more read after the current one, so the last read always sees the latest files.
   */
  refresh(jobId: string): Promise<void> {
    return this.#reader.refresh(jobId);
  }

  /** Reads many jobs, then stores them in one short transaction (a reconcile's batch). */
  readMany(ids: readonly string[], archiveNames: ReadonlyMap<string, readonly string[]>): Promise<void> {
    return this.#reader.readMany(ids, archiveNames);
  }

  #noteArchive(jobId: string, name: string): void {
    this.#reader.noteArchive(jobId, name);
  }

  async #drain(): Promise<void> {
    await this.#reader.drain();
  }

  #emitAbout(jobId: string, change: CatalogChange): void {
    this.#emit({ job_id: jobId, change, row: this.#store.row(jobId) ?? unknownRow(jobId, 0, this.counter) });
  }

  #emit(event: CatalogEvent): void {
    this.#listeners.emit(event);
  }

  /** Calls `listener` on every observed change of `jobId` (or of any job, for "*"). */
  subscribe(jobId: string, listener: CatalogListener): () => void {
    return this.#listeners.subscribe(jobId, listener);
  }

  get(jobId: string): CatalogRow | undefined {
    return this.#store.row(jobId);
  }

  /** Archive folder names of a job, newest first, from the index. */
  archiveDirs(jobId: string): string[] {
    return this.#store.archiveNames(jobId);
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#listeners.clear();
    if (this.#timer) clearInterval(this.#timer);
    for (const watch of this.#watches) watch.close();
    (await this.#receipts?.catch(() => undefined))?.close();
    await this.#follows.closeAll();
    // Reads in flight finish before the store they write to is closed by its owner.
    await this.#rest;
    await this.#drain();
  }
}
