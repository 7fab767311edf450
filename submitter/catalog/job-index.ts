import { randomBytes } from "node:crypto";
import { join } from "node:path";
import type { FSWatcher } from "chokidar";
import type { QueuePaths } from "../../protocol/index.ts";
import { isTerminal, parseArchiveDirName } from "../../protocol/index.ts";
import type { JobRead } from "../jobs/job-files.ts";
import type { VerificationCache } from "../jobs/results-check.ts";
import type {
  CatalogChange,
  CatalogEvent,
  CatalogListener,
  CatalogRow,
  ResultsVerification,
} from "./job-catalog.ts";
import type { FollowMode } from "./job-follows.ts";
import { JobFollows } from "./job-follows.ts";
import { readJobReads, scanQueue } from "./queue-scan.ts";
import { RemovalLog } from "./removal-log.ts";
import { ResultsTracker } from "./results-follow.ts";
import type { RootEntry } from "./root-watch.ts";
import { watchQueueRoots, watchReceipts } from "./root-watch.ts";
import { rowFingerprint, summarizeRow, unknownRow } from "./row-summary.ts";

/** Only what lists and lookups need: a parsed job.json per folder would be most of the index's memory. */
interface Entry {
  row: CatalogRow;
  fingerprint: string;
}

export interface JobIndexOptions {
  /** Track one job only (the CLI's wait): no full scan, no watchers on other jobs. */
  only?: string;
}

const SCAN_CONCURRENCY = 32;

/**
 * Every job's list row, kept in memory, so list_jobs never re-reads 10,000 job.json files. Each
 * observed change gets the next value of a counter; cursors are "<instance>.<counter>".
 *
 * Watching costs one inotify watch per watched folder, so only folders whose contents can still
 * change something are watched: outbox/, inbox/ and archive/ at depth 0 (root-watch.ts), and
 * inbox/<id>/ while its job.json is not final or its results are still arriving (job-follows.ts).
 * Cancel requests (outbox/.cancel/) are not part of a row, so they are not watched; fetch receipts
 * only once a subscriber asks for them.
 */
export class JobIndex {
  readonly instanceId = randomBytes(6).toString("hex");
  readonly #queue: QueuePaths;
  readonly #only: string | undefined;
  readonly #entries = new Map<string, Entry>();
  readonly #listeners = new Map<string, Set<CatalogListener>>();
  readonly #refreshing = new Map<string, { dirty: boolean; done: Promise<void> }>();
  /** Archive folder names per job id, from the scan and the watcher (never a readdir per job). */
  readonly #archiveNames = new Map<string, Set<string>>();
  readonly #removed = new RemovalLog();
  /** Jobs with an inbox/<id>/ folder, from the scan and the root watcher (no stat per job). */
  readonly #inboxDirs = new Set<string>();
  readonly #follows: JobFollows;
  readonly #results: ResultsTracker;
  #counter = 0;
  #watchers: FSWatcher[] = [];
  #receipts: Promise<FSWatcher> | undefined;
  #ready: Promise<void> | undefined;
  #closed = false;

  constructor(queue: QueuePaths, verification: VerificationCache, options: JobIndexOptions = {}) {
    this.#queue = queue;
    this.#only = options.only;
    this.#results = new ResultsTracker(verification);
    this.#follows = new JobFollows(queue.inbox, (jobId) => void this.refresh(jobId));
  }

  get counter(): number {
    return this.#counter;
  }

  /** Starts the watcher, then scans; events during the scan just cause another (idempotent) read. */
  start(): Promise<void> {
    this.#ready ??= this.#start();
    return this.#ready;
  }

  async #start(): Promise<void> {
    this.#watchers.push(await watchQueueRoots(this.#queue, this.#only, (entry) => this.#onRootEntry(entry)));
    const scan = await scanQueue(this.#queue, this.#only);
    for (const id of scan.inboxDirs) this.#inboxDirs.add(id);
    for (const name of scan.archiveNames) this.noteArchiveDir(name);
    for (let i = 0; i < scan.ids.length; i += SCAN_CONCURRENCY) {
      await Promise.all(scan.ids.slice(i, i + SCAN_CONCURRENCY).map((id) => this.refresh(id)));
    }
  }

  #onRootEntry({ root, event, name, jobId }: RootEntry): void {
    if (root === "archive") this.noteArchiveDir(name);
    if (root === "inbox" && event === "addDir") this.#inboxDirs.add(jobId);
    if (root === "inbox" && event === "unlinkDir") this.#inboxDirs.delete(jobId);
    const refreshed = this.refresh(jobId);
    if (root === "archive" && event === "addDir")
      void refreshed.then(() => this.#emitAbout(jobId, "archived"));
  }

  /** Reports fetch receipts from now on (a watch of .state/fetched/ the MCP server does not need). */
  watchReceipts(): Promise<void> {
    this.#receipts ??= watchReceipts(this.#queue.fetchedDir, (jobId) => this.#emitAbout(jobId, "fetched"));
    return this.#receipts.then((watcher) => {
      if (!this.#watchers.includes(watcher)) this.#watchers.push(watcher);
    });
  }

  /** Jobs whose inbox/<id>/ is followed (not final yet, or results still arriving), sorted. */
  watchedInboxIds(): string[] {
    return this.#follows.ids();
  }

  /** Records an archive folder (from the watcher, or from archive_job right after publishing it). */
  noteArchiveDir(name: string): void {
    const parsed = parseArchiveDirName(name);
    if (!parsed) return;
    let names = this.#archiveNames.get(parsed.job_id);
    if (!names) {
      names = new Set();
      this.#archiveNames.set(parsed.job_id, names);
    }
    names.add(name);
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
    const running = this.#refreshing.get(jobId);
    if (running) {
      running.dirty = true;
      return running.done;
    }
    const state = { dirty: false, done: Promise.resolve() };
    state.done = (async () => {
      try {
        do {
          state.dirty = false;
          await this.#read(jobId);
        } while (state.dirty && !this.#closed);
      } finally {
        this.#refreshing.delete(jobId);
      }
    })();
    this.#refreshing.set(jobId, state);
    return state.done;
  }

  async #read(jobId: string): Promise<void> {
    const known = this.#archiveNames.get(jobId);
    const reads = await readJobReads(this.#queue, jobId, [...(known ?? [])]);
    const { outbox, inbox, archives } = reads;
    for (const name of [...(known ?? [])]) if (!archives.has(name)) known?.delete(name);
    if (known?.size === 0) this.#archiveNames.delete(jobId);
    const inboxDir = join(this.#queue.inbox, jobId);
    const verified = await this.#follow(jobId, inbox, inboxDir);
    const previous = this.#entries.get(jobId);
    if (outbox.kind === "absent" && inbox.kind === "absent" && archives.size === 0) {
      if (previous) {
        this.#counter++;
        this.#entries.delete(jobId);
        this.#results.forget(jobId);
        this.#removed.add(jobId, this.#counter);
        this.#emit({
          job_id: jobId,
          change: "removed",
          row: unknownRow(jobId, previous.row.seq, this.#counter),
        });
      }
      return;
    }
    const row = summarizeRow(jobId, reads, previous?.row.change ?? 0);
    const fingerprint = rowFingerprint(row);
    const changed = previous?.fingerprint !== fingerprint;
    if (changed) {
      this.#counter++;
      row.change = this.#counter;
    }
    this.#entries.set(jobId, { row, fingerprint });
    this.#removed.delete(jobId);
    this.#emit({ job_id: jobId, change: changed ? "row" : "touched", row });
    if (verified) this.#emit({ job_id: jobId, change: "results", row, results: verified });
  }

  /** Follows inbox/<id>/ while its job.json or results can still change; returns results that just verified. */
  async #follow(jobId: string, inbox: JobRead, dir: string): Promise<ResultsVerification | undefined> {
    if (this.#closed) return undefined;
    let mode: FollowMode | undefined;
    let verified: ResultsVerification | undefined;
    if (!this.#inboxDirs.has(jobId)) mode = undefined;
    else if (inbox.kind !== "ok" || !isTerminal(inbox.job.status)) mode = "job";
    else {
      const decision = await this.#results.check(jobId, dir, inbox.job);
      mode = decision.follow ? "results" : undefined;
      verified = decision.verified;
    }
    // Not awaiting the watcher's close: the follow ends now, before the row that says so is reported.
    if (mode === undefined) void this.#follows.unfollow(jobId);
    else {
      const manifest = inbox.kind === "ok" ? inbox.job.results?.files : undefined;
      // A result folder just added may have filled before its watch stood: read once more.
      if (await this.#follows.follow(jobId, mode, manifest)) void this.refresh(jobId);
    }
    return verified;
  }

  #emitAbout(jobId: string, change: CatalogChange): void {
    this.#emit({
      job_id: jobId,
      change,
      row: this.#entries.get(jobId)?.row ?? unknownRow(jobId, 0, this.#counter),
    });
  }

  #emit(event: CatalogEvent): void {
    for (const key of [event.job_id, "*"]) {
      for (const listener of this.#listeners.get(key) ?? []) {
        try {
          listener(event);
        } catch {
          // One subscriber's failure must not stop the others.
        }
      }
    }
  }

  /** Calls `listener` on every observed change of `jobId` (or of any job, for "*"). */
  subscribe(jobId: string, listener: CatalogListener): () => void {
    let set = this.#listeners.get(jobId);
    if (!set) {
      set = new Set();
      this.#listeners.set(jobId, set);
    }
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0) this.#listeners.delete(jobId);
    };
  }

  get(jobId: string): CatalogRow | undefined {
    return this.#entries.get(jobId)?.row;
  }

  rows(): CatalogRow[] {
    return Array.from(this.#entries.values(), (entry) => entry.row);
  }

  ids(): string[] {
    return [...this.#entries.keys()];
  }

  /** Archive folder names of a job, newest first, from memory. */
  archiveDirs(jobId: string): string[] {
    return [...(this.#archiveNames.get(jobId) ?? [])].sort().reverse();
  }

  /** Ids removed after `counter`, and whether the removal record reaches back that far. */
  removedSince(counter: number): { ids: string[]; complete: boolean } {
    return this.#removed.since(counter);
  }

  get size(): number {
    return this.#entries.size;
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#listeners.clear();
    const receipts = await this.#receipts?.catch(() => undefined);
    const watchers = new Set([...this.#watchers, ...(receipts ? [receipts] : [])]);
    await Promise.all([...watchers].map((watcher) => watcher.close()));
    await this.#follows.closeAll();
  }
}
