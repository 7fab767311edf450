import { IndexedCatalog } from "./indexed-catalog.ts";
import type { CatalogListener, SubscribeOptions } from "./job-catalog.ts";
import { JobIndex } from "./job-index.ts";

/**
 * The one-shot commands' catalog: the persistent index brought up to date on the first listing (not
 * at all for a command about one job), and nothing watched. A subscription watches only what it asks
 * about, for as long as it stands (the CLI's wait).
 */
export class DiskCatalog extends IndexedCatalog {
  readonly #watches = new Set<JobIndex>();

  /** Watches `jobId` alone (or the whole queue for "*") until unsubscribed. */
  async subscribe(
    jobId: string,
    listener: CatalogListener,
    options: SubscribeOptions = {},
  ): Promise<() => void> {
    const index = new JobIndex(
      this.target.queue,
      this.store,
      this.verification,
      jobId === "*" ? {} : { only: jobId },
    );
    this.#watches.add(index);
    const unsubscribe = index.subscribe(jobId, listener);
    try {
      await index.start();
      if (options.receipts) await index.watchReceipts();
    } catch (error) {
      this.#watches.delete(index);
      await index.close();
      throw error;
    }
    return () => {
      unsubscribe();
      // Kept until closed, so close() waits for a watch still closing (a CLI exits after it).
      void index.close().finally(() => this.#watches.delete(index));
    };
  }

  override async close(): Promise<void> {
    const watches = [...this.#watches];
    this.#watches.clear();
    await Promise.all(watches.map((index) => index.close()));
    await super.close();
  }
}
