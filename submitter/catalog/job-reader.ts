import { join } from "node:path";
import type { QueuePaths } from "../../protocol/index.ts";
import type { EmittedChanges } from "./emitted-changes.ts";
import type { InboxFollow, InboxFollowDeps } from "./inbox-follow.ts";
import { followInbox } from "./inbox-follow.ts";
import type { IndexStore } from "./index-store.ts";
import type { CatalogEvent } from "./job-catalog.ts";
import { jobProof } from "./job-proof.ts";
import { isDirectory, readJobReads } from "./queue-scan.ts";
import type { ResultsTracker } from "./results-follow.ts";
import type { JobReads } from "./row-summary.ts";
import { summarizeRow, unknownRow } from "./row-summary.ts";

/** One job's files as read, before they are stored. */
interface Loaded {
  jobId: string;
  proof: string;
  reads: JobReads;
  inInbox: boolean;
  follow: InboxFollow;
}

export interface JobReaderDeps {
  queue: QueuePaths;
  store: IndexStore;
  results: ResultsTracker;
  emitted: EmittedChanges;
  followDeps: InboxFollowDeps;
  emit(event: CatalogEvent): void;
  closed(): boolean;
}

/**
 * Reads jobs' files and stores what they prove in the index, reporting each change: the reading half
 * of the job index (job-index.ts keeps the watches). Reads of one job coalesce; many jobs' writes go
 * into one short transaction.
 */
export class JobReader {
  readonly #queue: QueuePaths;
  readonly #store: IndexStore;
  readonly #results: ResultsTracker;
  readonly #emitted: EmittedChanges;
  readonly #followDeps: InboxFollowDeps;
  readonly #emit: (event: CatalogEvent) => void;
  readonly #closed: () => boolean;
  readonly #refreshing = new Map<string, { dirty: boolean; done: Promise<void> }>();
  /** Archive folders seen (an event, a listing, archive_job) but not yet read with their job. */
  readonly #pendingArchives = new Map<string, Set<string>>();

  constructor(deps: JobReaderDeps) {
    this.#queue = deps.queue;
    this.#store = deps.store;
    this.#results = deps.results;
    this.#emitted = deps.emitted;
    this.#followDeps = deps.followDeps;
    this.#emit = deps.emit;
    this.#closed = deps.closed;
  }

  /** Reads in flight finish before the store they write to is closed by its owner. */
  async drain(): Promise<void> {
    await Promise.all([...this.#refreshing.values()].map((state) => state.done.catch(() => undefined)));
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
        } while (state.dirty && !this.#closed());
      } finally {
        this.#refreshing.delete(jobId);
      }
    })();
    this.#refreshing.set(jobId, state);
    return state.done;
  }

  async #read(jobId: string): Promise<void> {
    const loaded = await this.#load(jobId);
    if (loaded && !this.#closed()) this.#apply(loaded);
  }

  /** Reads a job's files (no write): what `#apply` stores. Archive names just seen are read too. */
  async #load(jobId: string): Promise<Loaded | undefined> {
    if (this.#closed()) return undefined;
    const pending = this.#pendingArchives.get(jobId);
    this.#pendingArchives.delete(jobId);
    const names = [...new Set([...this.#store.archiveNames(jobId), ...(pending ?? [])])].sort().reverse();
    const proof = jobProof(this.#queue, jobId, names);
    const reads = await readJobReads(this.#queue, jobId, names);
    const inInbox = reads.inbox.kind !== "absent" || (await isDirectory(join(this.#queue.inbox, jobId)));
    const follow = await followInbox(this.#followDeps, jobId, reads.inbox, inInbox);
    return { jobId, proof, reads, inInbox, follow };
  }

  /** Stores what a read found and reports it (synchronous: many go into one short transaction). */
  #apply({ jobId, proof, reads, inInbox, follow }: Loaded): void {
    const { outbox, inbox, archives } = reads;
    if (outbox.kind === "absent" && inbox.kind === "absent" && archives.size === 0) {
      const seq = this.#store.row(jobId)?.seq ?? 0;
      const removal = this.#store.remove(jobId) ?? this.#store.removedAt(jobId);
      this.#results.forget(jobId);
      if (removal !== undefined && this.#emitted.isNew(jobId, removal)) {
        this.#emitted.note(jobId, removal);
        this.#emit({ job_id: jobId, change: "removed", row: unknownRow(jobId, seq, removal) });
      }
      return;
    }
    const outcome = this.#store.put(jobId, summarizeRow(jobId, reads, 0), {
      inOutbox: outbox.kind !== "absent",
      inInbox,
      live: follow.mode !== undefined,
      settled: follow.settled,
      archives: [...archives.keys()],
      proof,
    });
    const { row } = outcome;
    const changed = outcome.changed || this.#emitted.isNew(jobId, row.change);
    const added =
      outcome.added || (changed && !this.#emitted.has(jobId) && this.#emitted.afterStart(row.change));
    this.#emitted.note(jobId, row.change);
    this.#emit({
      job_id: jobId,
      change: changed ? "row" : "touched",
      row,
      ...(changed && added ? { added } : {}),
    });
    if (follow.verified) this.#emit({ job_id: jobId, change: "results", row, results: follow.verified });
  }

  /**
   * Reads many jobs (a reconcile's batch), then stores them in one short transaction: the write lock
   * is never held while files are read, so the other server processes of the queue get their turn.
   * A job read meanwhile by a watch event is read once more after, as `refresh` would.
   */
  async readMany(
    ids: readonly string[],
    archiveNames: ReadonlyMap<string, readonly string[]>,
  ): Promise<void> {
    const mine: { id: string; state: { dirty: boolean; done: Promise<void> }; finish: () => void }[] = [];
    for (const id of ids) {
      for (const name of archiveNames.get(id) ?? []) this.noteArchive(id, name);
      if (this.#refreshing.has(id)) {
        void this.refresh(id);
        continue;
      }
      let finish = () => {};
      const state = { dirty: false, done: new Promise<void>((resolve) => (finish = resolve)) };
      this.#refreshing.set(id, state);
      mine.push({ id, state, finish });
    }
    try {
      const loaded = await Promise.all(mine.map(({ id }) => this.#load(id)));
      if (!this.#closed())
        this.#store.batch(() => {
          for (const one of loaded) if (one) this.#apply(one);
        });
    } finally {
      for (const { id, state, finish } of mine) {
        this.#refreshing.delete(id);
        finish();
        if (state.dirty && !this.#closed()) void this.refresh(id);
      }
    }
  }

  noteArchive(jobId: string, name: string): void {
    const names = this.#pendingArchives.get(jobId) ?? new Set<string>();
    names.add(name);
    this.#pendingArchives.set(jobId, names);
  }
}
