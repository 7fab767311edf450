import { archiveDirsOf } from "../../protocol/index.ts";
import type { VerificationCache } from "../jobs/results-check.ts";
import { FolderCatalog } from "./folder-catalog.ts";
import type { FolderQueue } from "./folder-writes.ts";
import { isDamagedError } from "./index-db.ts";
import { buildQuery } from "./index-query.ts";
import type { IndexStore } from "./index-store.ts";
import type {
  CatalogListing,
  CatalogPage,
  CatalogQuery,
  CatalogRow,
  GetOptions,
  JobRecord,
} from "./job-catalog.ts";
import { JobIndex } from "./job-index.ts";
import { jobProof } from "./job-proof.ts";

/** Pages taken again at most this often while rows keep moving under a listing (then shown as read). */
const MAX_PAGE_ROUNDS = 4;

/**
 * A folder catalog whose rows and archive names come from the persistent job index. The index is a
 * cache: every `get` reads the job's files, and a listing reads the files of the rows it returns
 * before it answers, so no state is ever reported from the index alone when a file says otherwise.
 */
/** Opens the index afresh after the one in use turned out damaged (moves it aside first). */
export type ReopenIndex = (damage: unknown) => Promise<IndexStore>;

export abstract class IndexedCatalog extends FolderCatalog {
  #index: JobIndex;
  #store: IndexStore;
  readonly #watch: boolean;
  readonly #reopen: ReopenIndex | undefined;
  #starting: Promise<void> | undefined;

  constructor(
    target: FolderQueue,
    verification: VerificationCache,
    store: IndexStore,
    watch: boolean,
    reopen?: ReopenIndex,
  ) {
    super(target, verification);
    this.#store = store;
    this.#watch = watch;
    this.#reopen = reopen;
    this.#index = new JobIndex(target.queue, store, verification, { watch });
  }

  get index(): JobIndex {
    return this.#index;
  }

  protected get store(): IndexStore {
    return this.#store;
  }

  #background = false;

  /** Brings the index up to date (and, for a watched catalog, starts its watches) once. */
  start(): Promise<void> {
    this.#starting ??= this.#start().catch((error: unknown) => {
      this.#starting = undefined;
      throw error;
    });
    return this.#starting;
  }

  async #start(): Promise<void> {
    try {
      await this.#index.start();
    } catch (error) {
      // Damage past the pages opening reads shows in the first reconcile: rebuild, as opening would.
      if (!isDamagedError(error) || !this.#reopen) throw error;
      const reopen = this.#reopen;
      await this.#index.close();
      this.#store.close();
      this.#store = await reopen(error);
      this.#index = new JobIndex(this.target.queue, this.#store, this.verification, { watch: this.#watch });
      await this.#index.start();
    }
  }

  /**
   * The first build of the index goes on after opening (a new or rebuilt index over a large queue
   * can take a minute): `get` reads files anyway, listings say they are incomplete meanwhile.
   */
  continueInBackground(started: Promise<void>, log: (line: string) => void): void {
    this.#background = true;
    const began = Date.now();
    started.then(
      () => {
        if (this.#closing) return;
        const { read } = this.index.lastBuild;
        const seconds = ((Date.now() - began) / 1000).toFixed(1);
        log(
          `job index: up to date (${read} jobs read, the last ${seconds} s while serving); later starts read only what changed`,
        );
      },
      (error: unknown) =>
        this.#closing ||
        log(
          `job index: reading the queue failed (${(error as Error).message}); listings stay incomplete until the next start`,
        ),
    );
  }

  override async get(jobId: string, options?: GetOptions): Promise<JobRecord> {
    const record = await super.get(jobId, options);
    // Results found still arriving are followed until they verify, even when job.json was final at first sight.
    if (record.results.state === "syncing") await this.index.noteResultsSyncing(jobId);
    return record;
  }

  async query(query: CatalogQuery): Promise<CatalogPage> {
    // A first build of a large queue answers from what it has read so far, and says so.
    const building = this.#background ? this.index.building : undefined;
    if (!building) await this.start();
    const built = buildQuery(query);
    // The rows about to be shown are checked against their files first (a stat of each job.json): a
    // row whose files moved on is read again and the page taken anew, so what is shown is what the
    // files say now, never the index alone.
    let rows = this.store.rows(built.page.sql, built.page.params);
    // A row read again may leave the page and another slide in: check until a page holds still.
    for (let round = 0; round < MAX_PAGE_ROUNDS; round++) {
      const moved = this.#staleRows(rows);
      if (moved.length === 0) break;
      await Promise.all(moved.map((row) => this.index.refresh(row.job_id)));
      rows = this.store.rows(built.page.sql, built.page.params);
    }
    return {
      instance: this.store.instance,
      counter: this.store.counter(),
      total: this.store.count(built.total.sql, built.total.params),
      rows,
      removedSince: (counter) => this.store.removedSince(counter),
      ...(building ? { building } : {}),
    };
  }

  /** Rows whose job.json files are not the ones they were read from (a stat of each). */
  #staleRows(rows: readonly CatalogRow[]): CatalogRow[] {
    const { queue } = this.target;
    const stored = this.store.proofsOf(rows.map((row) => row.job_id));
    return rows.filter((row) => {
      const known = stored.get(row.job_id);
      return jobProof(queue, row.job_id, known?.archives ?? []) !== known?.proof;
    });
  }

  async list(): Promise<CatalogListing> {
    await this.start();
    return {
      instance: this.store.instance,
      counter: this.store.counter(),
      rows: this.store.rows("SELECT row, change FROM jobs ORDER BY sort_key DESC, job_id DESC", []),
      removedSince: (counter) => this.store.removedSince(counter),
    };
  }

  async ids(): Promise<string[]> {
    await this.start();
    return this.store.ids();
  }

  protected async idsWithIdempotencyKey(key: string): Promise<string[]> {
    await this.start();
    return this.store.idsWithIdempotencyKey(key);
  }

  protected async archiveNames(jobId: string): Promise<string[]> {
    const names = this.store.archiveNames(jobId);
    // An archive published a moment ago may not have reached the watcher yet.
    return names.length > 0 ? names : archiveDirsOf(this.target.queue, jobId);
  }

  protected async knownArchiveNames(jobId: string): Promise<string[]> {
    // Until the index has read archive/, the folder itself is the answer (isTaken, idempotency).
    return this.index.building ? archiveDirsOf(this.target.queue, jobId) : this.store.archiveNames(jobId);
  }

  protected change(jobId: string): number | undefined {
    return this.store.row(jobId)?.change;
  }

  protected async changed(jobId: string, archiveName?: string): Promise<void> {
    if (archiveName) this.index.noteArchiveDir(archiveName, jobId);
    await this.index.refresh(jobId);
  }

  #closing = false;

  async close(): Promise<void> {
    this.#closing = true;
    await this.index.close();
    // A build still running stops at its next batch; the store closes after it.
    if (this.#background) await this.start().catch(() => undefined);
    this.store.close();
  }
}
