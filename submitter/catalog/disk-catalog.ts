import { randomBytes } from "node:crypto";
import { parseArchiveDirName } from "../../protocol/index.ts";
import { FolderCatalog } from "./folder-catalog.ts";
import type { CatalogListener, CatalogListing, CatalogRow, SubscribeOptions } from "./job-catalog.ts";
import { JobIndex } from "./job-index.ts";
import { archiveNamesOf, readJobReads, scanQueue } from "./queue-scan.ts";
import { summarizeRow } from "./row-summary.ts";

const SCAN_CONCURRENCY = 32;

/**
 * The one-shot commands' catalog: every call reads the folders afresh and nothing is kept. A
 * subscription watches only what it asks about, for as long as it stands (the CLI's wait).
 */
export class DiskCatalog extends FolderCatalog {
  readonly #watches = new Set<JobIndex>();

  /** Every job's row, read now; the cursor is this call's own (no later call can continue it). */
  async list(): Promise<CatalogListing> {
    const { queue } = this.target;
    const scan = await scanQueue(queue);
    const names = new Map<string, string[]>();
    for (const name of scan.archiveNames) {
      const jobId = parseArchiveDirName(name)?.job_id;
      if (jobId) names.set(jobId, [...(names.get(jobId) ?? []), name]);
    }
    const rows: CatalogRow[] = [];
    for (let i = 0; i < scan.ids.length; i += SCAN_CONCURRENCY) {
      const batch = scan.ids.slice(i, i + SCAN_CONCURRENCY);
      const reads = await Promise.all(batch.map((id) => readJobReads(queue, id, names.get(id) ?? [])));
      batch.forEach((id, at) => {
        const read = reads[at];
        if (
          !read ||
          (read.outbox.kind === "absent" && read.inbox.kind === "absent" && read.archives.size === 0)
        )
          return;
        rows.push(summarizeRow(id, read, rows.length + 1));
      });
    }
    return {
      instance: randomBytes(6).toString("hex"),
      counter: rows.length,
      rows,
      removedSince: () => ({ ids: [], complete: true }),
    };
  }

  async ids(): Promise<string[]> {
    return (await scanQueue(this.target.queue)).ids;
  }

  /** Watches `jobId` alone (or the whole queue for "*") until unsubscribed. */
  async subscribe(
    jobId: string,
    listener: CatalogListener,
    options: SubscribeOptions = {},
  ): Promise<() => void> {
    const index = new JobIndex(this.target.queue, this.verification, jobId === "*" ? {} : { only: jobId });
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
      this.#watches.delete(index);
      void index.close();
    };
  }

  protected archiveNames(jobId: string): Promise<string[]> {
    return archiveNamesOf(this.target.queue, jobId);
  }

  protected knownArchiveNames(jobId: string): Promise<string[]> {
    return archiveNamesOf(this.target.queue, jobId);
  }

  protected change(): number | undefined {
    return undefined;
  }

  protected async changed(): Promise<void> {
    // Nothing is kept between calls.
  }

  async close(): Promise<void> {
    const watches = [...this.#watches];
    this.#watches.clear();
    await Promise.all(watches.map((index) => index.close()));
  }
}
