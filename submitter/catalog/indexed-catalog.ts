import { archiveDirsOf } from "../../protocol/index.ts";
import type { VerificationCache } from "../jobs/results-check.ts";
import { FolderCatalog } from "./folder-catalog.ts";
import type { FolderQueue } from "./folder-writes.ts";
import { buildQuery } from "./index-query.ts";
import type { IndexStore } from "./index-store.ts";
import type { CatalogListing, CatalogPage, CatalogQuery, GetOptions, JobRecord } from "./job-catalog.ts";
import { JobIndex } from "./job-index.ts";

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

  /** Brings the index up to date (and, for a watched catalog, starts its watches) once. */
  start(): Promise<void> {
    return this.index.start();
  }

  override async get(jobId: string, options?: GetOptions): Promise<JobRecord> {
    const record = await super.get(jobId, options);
    // Results found still arriving are followed until they verify, even when job.json was final at first sight.
    if (record.results.state === "syncing") await this.index.noteResultsSyncing(jobId);
    return record;
  }

  async query(query: CatalogQuery): Promise<CatalogPage> {
    await this.start();
    const built = buildQuery(query);
    const first = this.store.rows(built.page.sql, built.page.params);
    // The rows about to be shown are read from their files first; a row that moved on is stored anew
    // and the page taken again, so what is shown is what the files say now.
    await Promise.all(first.map((row) => this.index.refresh(row.job_id)));
    const moved = first.some((row) => this.store.row(row.job_id)?.change !== row.change);
    const rows = moved ? this.store.rows(built.page.sql, built.page.params) : first;
    return {
      instance: this.store.instance,
      counter: this.store.counter(),
      total: this.store.count(built.total.sql, built.total.params),
      rows,
      removedSince: (counter) => this.store.removedSince(counter),
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
    return this.store.archiveNames(jobId);
  }

  protected change(jobId: string): number | undefined {
    return this.store.row(jobId)?.change;
  }

  protected async changed(jobId: string, archiveName?: string): Promise<void> {
    if (archiveName) this.index.noteArchiveDir(archiveName, jobId);
    await this.index.refresh(jobId);
  }

  async close(): Promise<void> {
    await this.index.close();
    this.store.close();
  }
}
