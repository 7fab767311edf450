import { IndexedCatalog } from "./indexed-catalog.ts";
import type { CatalogListener, SubscribeOptions } from "./job-catalog.ts";

/** The long-running server's catalog: the persistent index, kept current by watches. */
export class WatchedCatalog extends IndexedCatalog {
  async subscribe(
    jobId: string,
    listener: CatalogListener,
    options: SubscribeOptions = {},
  ): Promise<() => void> {
    const unsubscribe = this.index.subscribe(jobId, listener);
    if (options.receipts) await this.index.watchReceipts();
    return unsubscribe;
  }
}
