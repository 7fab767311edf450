import { archiveDirsOf } from "../../protocol/index.ts";
import type { VerificationCache } from "../jobs/results-check.ts";
import { FolderCatalog } from "./folder-catalog.ts";
import type { FolderQueue } from "./folder-writes.ts";
import { buildQuery } from "./index-query.ts";
import type { IndexStore } from "./index-store.ts";
import type { CatalogListing, CatalogPage, CatalogQuery, GetOptions, JobRecord } from "./job-catalog.ts";
import { JobIndex } from "./job-index.ts";
import { jobProof } from "./job-proof.ts";

/**
 * A folder catalog whose rows and archive names come from the persistent job index. The index is a
 * cache: every `get` reads the job's files, and a listing reads the files of the rows it returns
 * before it answers, so no state is ever reported from the index alone when a file says otherwise.
 */
export abstract class IndexedCatalog extends FolderCatalog {
  readonly index: JobIndex;
  protected readonly store: IndexStore;

  constructor(target: FolderQueue, verification: VerificationCache, store: IndexStore, watch: boolean) {
    super(target, verification);
    this.store = store;
    this.index = new JobIndex(target.queue, store, verification, { watch });
  }

  #background = false;

  /** Brings the index up to date (and, for a watched catalog, starts its watches) once. */
  start(): Promise<void> {
    return this.index.start();
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
    const first = this.store.rows(built.page.sql, built.page.params);
    // The rows about to be shown are checked against their files first (a stat of each job.json): a
    // row whose files moved on is read again and the page taken anew, so what is shown is what the
    // files say now, never the index alone.
    const { queue } = this.target;
    const stale = await Promise.all(
      first.map(
        async (row) =>
          (await jobProof(queue, row.job_id, this.store.archiveNames(row.job_id))) !==
          this.store.proof(row.job_id),
      ),
    );
    const reread = first.filter((_, at) => stale[at]);
    await Promise.all(reread.map((row) => this.index.refresh(row.job_id)));
    const rows = reread.length > 0 ? this.store.rows(built.page.sql, built.page.params) : first;
    return {
      instance: this.store.instance,
      counter: this.store.counter(),
      total: this.store.count(built.total.sql, built.total.params),
      rows,
      removedSince: (counter) => this.store.removedSince(counter),
      ...(building ? { building } : {}),
    };
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
