import type { CancelRequest, FetchReceipt, Job, KeyedSerial } from "../../protocol/index.ts";
import { canonicalJson, createKeyedSerial } from "../../protocol/index.ts";
import type { NatsQueue } from "../../protocol/nats-connect.ts";
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
  RunnerView,
  SubscribeOptions,
} from "./job-catalog.ts";
import type { MirrorKeeper } from "./nats-mirror-keeper.ts";
import {
  publishToNats,
  recordArchiveInNats,
  recordFetchInNats,
  requestCancelInNats,
  retireInNats,
  takenInNats,
} from "./nats-publish.ts";

/**
 * The job catalog over NATS JetStream: the folder catalog of a local mirror queue, which the mirror
 * downloader keeps equal to KV, with every write made in NATS first (KV is the truth) and then in the
 * mirror, so this process reads its own write at once. Reads and subscriptions are the folder
 * catalog's, unchanged: they follow the mirror's folders, which change as KV does.
 */
export class NatsCatalog implements JobCatalog {
  readonly #mirror: JobCatalog;
  readonly #nats: NatsQueue;
  readonly #keeper: MirrorKeeper;
  readonly #now: () => Date;
  /** Two submits of this process under one id never upload over each other's objects. */
  readonly #publishing: KeyedSerial = createKeyedSerial();

  constructor(mirror: JobCatalog, nats: NatsQueue, keeper: MirrorKeeper, now: () => Date = () => new Date()) {
    this.#mirror = mirror;
    this.#nats = nats;
    this.#keeper = keeper;
    this.#now = now;
  }

  /** The server as runner_status shows it. */
  get url(): string {
    return this.#nats.url;
  }

  /** Whether this process runs the mirror's downloader now (else another process does). */
  get downloading(): boolean {
    return this.#keeper.holding;
  }

  get(jobId: string, options?: GetOptions): Promise<JobRecord> {
    return this.#mirror.get(jobId, options);
  }

  list(): Promise<CatalogListing> {
    return this.#mirror.list();
  }

  query(query: CatalogQuery): Promise<CatalogPage> {
    return this.#mirror.query(query);
  }

  ids(): Promise<string[]> {
    return this.#mirror.ids();
  }

  findByIdempotencyKey(key: string): Promise<Job | undefined> {
    return this.#mirror.findByIdempotencyKey(key);
  }

  runners(now: Date): Promise<RunnerView[]> {
    return this.#mirror.runners(now);
  }

  subscribe(jobId: string, listener: CatalogListener, options?: SubscribeOptions): Promise<() => void> {
    return this.#mirror.subscribe(jobId, listener, options);
  }

  async isTaken(jobId: string): Promise<boolean> {
    return (await this.#mirror.isTaken(jobId)) || (await takenInNats(this.#nats, jobId));
  }

  publishSubmission(jobId: string, staged: string): Promise<PublishOutcome> {
    return this.#publishing.run(jobId, async () => {
      if ((await publishToNats(this.#nats, jobId, staged, this.#now())) === "taken") {
        return { published: false, reason: "taken" };
      }
      const mirrored = await this.#mirror.publishSubmission(jobId, staged);
      // "taken" here means the downloader mirrored this very submission first: it is published.
      return mirrored.published
        ? mirrored
        : { published: true, folder: this.#mirror.submissionFolder(jobId) };
    });
  }

  submissionFolder(jobId: string): JobFolder {
    return this.#mirror.submissionFolder(jobId);
  }

  async requestCancel(
    request: CancelRequest,
    keep: (existing: CancelRequest) => boolean = () => true,
  ): Promise<{ request: CancelRequest; already: boolean }> {
    const standing = await requestCancelInNats(this.#nats, request, keep, this.#now());
    const wanted = canonicalJson(standing.request);
    await this.#mirror.requestCancel(standing.request, (existing) => canonicalJson(existing) === wanted);
    return standing;
  }

  async recordFetch(receipt: FetchReceipt): Promise<void> {
    await recordFetchInNats(this.#nats, receipt, this.#now());
    await this.#mirror.recordFetch(receipt);
  }

  /** The copy stays on this machine; KV records that it was made, and where. */
  async publishArchive(jobId: string, staged: string, at: Date): Promise<ArchivedCopy> {
    const copy = await this.#mirror.publishArchive(jobId, staged, at);
    await recordArchiveInNats(this.#nats, jobId, copy.name, copy.archived_at);
    return copy;
  }

  async retire(jobId: string): Promise<void> {
    await retireInNats(this.#nats, jobId);
    await this.#mirror.retire(jobId);
  }

  async close(): Promise<void> {
    try {
      await this.#keeper.close();
      await this.#mirror.close();
    } finally {
      await this.#nats.close();
    }
  }
}
