import { join } from "node:path";
import type { CancelRequest, FetchReceipt, Job } from "../../protocol/index.ts";
import { readJobAt } from "../../protocol/index.ts";
import type { VerificationCache } from "../jobs/results-check.ts";
import type { RunnerView } from "../jobs/runners.ts";
import { readRunners } from "../jobs/runners.ts";
import type { FolderQueue } from "./folder-writes.ts";
import * as writes from "./folder-writes.ts";
import type {
  ArchivedCopy,
  CatalogListener,
  CatalogListing,
  CatalogPage,
  CatalogQuery,
  GetOptions,
  JobCatalog,
  JobFolder,
  JobRecord,
  PublishOutcome,
  SubscribeOptions,
} from "./job-catalog.ts";
import type { RecordSource } from "./record-read.ts";
import { readRecord } from "./record-read.ts";

/**
 * The job catalog over the Syncthing folder queue. What is read and written is the same for both
 * folder catalogs; they differ in how they know the rows and archive names (a watched in-memory
 * index, or a fresh read of the folders) and in how they follow changes.
 */
export abstract class FolderCatalog implements JobCatalog {
  protected readonly target: FolderQueue;
  protected readonly verification: VerificationCache;

  constructor(target: FolderQueue, verification: VerificationCache) {
    this.target = target;
    this.verification = verification;
  }

  abstract list(): Promise<CatalogListing>;
  abstract query(query: CatalogQuery): Promise<CatalogPage>;
  /** Ids of jobs submitted with this idempotency key, newest first. */
  protected abstract idsWithIdempotencyKey(key: string): Promise<string[]>;
  abstract ids(): Promise<string[]>;
  abstract subscribe(
    jobId: string,
    listener: CatalogListener,
    options?: SubscribeOptions,
  ): Promise<() => void>;
  abstract close(): Promise<void>;
  /** The job's archive folder names, newest first, confirmed on disk when none are known. */
  protected abstract archiveNames(jobId: string): Promise<string[]>;
  /** The job's archive folder names as far as known without listing archive/. */
  protected abstract knownArchiveNames(jobId: string): Promise<string[]>;
  /** The job's change counter, when rows are kept. */
  protected abstract change(jobId: string): number | undefined;
  /** This side changed the job's files: update what is kept about it. */
  protected abstract changed(jobId: string, archiveName?: string): Promise<void>;

  protected recordSource(): RecordSource {
    return {
      queue: this.target.queue,
      verification: this.verification,
      archiveNames: (jobId) => this.archiveNames(jobId),
      knownArchiveNames: (jobId) => this.knownArchiveNames(jobId),
      change: (jobId) => this.change(jobId),
    };
  }

  get(jobId: string, options?: GetOptions): Promise<JobRecord> {
    return readRecord(this.recordSource(), jobId, options);
  }

  async findByIdempotencyKey(key: string): Promise<Job | undefined> {
    const { queue } = this.target;
    for (const jobId of await this.idsWithIdempotencyKey(key)) {
      for (const dir of [join(queue.inbox, jobId), join(queue.outbox, jobId)]) {
        const read = await readJobAt(dir);
        if (read.kind === "ok") return read.job;
      }
      const [archive] = await this.knownArchiveNames(jobId);
      if (archive) {
        const read = await readJobAt(join(queue.archive, archive));
        if (read.kind === "ok") return read.job;
      }
    }
    return undefined;
  }

  runners(now: Date): Promise<RunnerView[]> {
    return readRunners(this.target.queue, now);
  }

  isTaken(jobId: string): Promise<boolean> {
    return writes.isTaken(this.target, jobId, (id) => this.knownArchiveNames(id));
  }

  async publishSubmission(jobId: string, staged: string): Promise<PublishOutcome> {
    const outcome = await writes.publishSubmission(this.target, jobId, staged);
    if (outcome.published) await this.changed(jobId);
    return outcome;
  }

  submissionFolder(jobId: string): JobFolder {
    return writes.submissionFolder(this.target, jobId);
  }

  requestCancel(
    request: CancelRequest,
    keep?: (existing: CancelRequest) => boolean,
  ): Promise<{ request: CancelRequest; already: boolean }> {
    return writes.requestCancel(this.target, request, keep);
  }

  recordFetch(receipt: FetchReceipt): Promise<void> {
    return writes.recordFetch(this.target, receipt);
  }

  async publishArchive(jobId: string, staged: string, at: Date): Promise<ArchivedCopy> {
    const copy = await writes.publishArchive(this.target, jobId, staged, at);
    await this.changed(jobId, copy.name);
    return copy;
  }

  async retire(jobId: string): Promise<void> {
    await writes.retire(this.target, jobId);
    await this.changed(jobId);
  }
}
