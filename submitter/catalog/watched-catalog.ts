import type { VerificationCache } from "../jobs/results-check.ts";
import { FolderCatalog } from "./folder-catalog.ts";
import type { FolderQueue } from "./folder-writes.ts";
import type {
  CatalogListener,
  CatalogListing,
  GetOptions,
  JobRecord,
  SubscribeOptions,
} from "./job-catalog.ts";
import { JobIndex } from "./job-index.ts";
import { archiveNamesOf } from "./queue-scan.ts";

/** The long-running server's catalog: rows and archive names from a watched in-memory index. */
export class WatchedCatalog extends FolderCatalog {
  readonly index: JobIndex;

  constructor(target: FolderQueue, verification: VerificationCache) {
    super(target, verification);
    this.index = new JobIndex(target.queue, verification);
  }

  /** Scans the queue with the watchers already standing. */
  start(): Promise<void> {
    return this.index.start();
  }

  override async get(jobId: string, options?: GetOptions): Promise<JobRecord> {
    const record = await super.get(jobId, options);
    // Results found still arriving are followed until they verify, even when job.json was final at first sight.
    if (record.results.state === "syncing") await this.index.noteResultsSyncing(jobId);
    return record;
  }

  async list(): Promise<CatalogListing> {
    const index = this.index;
    return {
      instance: index.instanceId,
      counter: index.counter,
      rows: index.rows(),
      removedSince: (counter) => index.removedSince(counter),
    };
  }

  async ids(): Promise<string[]> {
    return this.index.ids();
  }

  async subscribe(
    jobId: string,
    listener: CatalogListener,
    options: SubscribeOptions = {},
  ): Promise<() => void> {
    const unsubscribe = this.index.subscribe(jobId, listener);
    if (options.receipts) await this.index.watchReceipts();
    return unsubscribe;
  }

  protected async archiveNames(jobId: string): Promise<string[]> {
    const names = this.index.archiveDirs(jobId);
    // An archive published a moment ago may not have reached the watcher yet.
    return names.length > 0 ? names : archiveNamesOf(this.target.queue, jobId);
  }

  protected async knownArchiveNames(jobId: string): Promise<string[]> {
    return this.index.archiveDirs(jobId);
  }

  protected change(jobId: string): number | undefined {
    return this.index.get(jobId)?.change;
  }

  protected async changed(jobId: string, archiveName?: string): Promise<void> {
    if (archiveName) this.index.noteArchiveDir(archiveName);
    await this.index.refresh(jobId);
  }

  close(): Promise<void> {
    return this.index.close();
  }
}
