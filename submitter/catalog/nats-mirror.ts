import { join } from "node:path";
import type { KeyedSerial } from "../../protocol/index.ts";
import { createKeyedSerial, isProtocolError, pathExists } from "../../protocol/index.ts";
import {
  CarriedFileSchema,
  parseJobKey,
  RunRecordSchema,
  SubmissionRecordSchema,
} from "../../protocol/nats-layout.ts";
import { decodeRecord } from "../../protocol/nats-records.ts";
import type { AppliedFiles, CarriedTarget, MirrorTarget } from "./nats-mirror-apply.ts";
import {
  applyCarried,
  applyRun,
  applySubmission,
  carriedPath,
  removeCarried,
  removeJobFolder,
} from "./nats-mirror-apply.ts";
import type { MirrorEntry } from "./nats-mirror-keys.ts";
import {
  MIRRORED_PREFIXES,
  mirroredKeysOnDisk,
  RUNNER_PREFIX,
  removalOf,
  serialKeyOf,
  toEntry,
} from "./nats-mirror-keys.ts";

/** Jobs downloaded side by side: enough to overlap round trips, few enough not to flood the disk. */
const PARALLEL_JOBS = 4;
/** Batches of KV reads during a full sync. */
const READ_BATCH = 16;
const RETRY_MS = 5000;
/** How long a submitter on this machine may take from its KV record to its own rename into the mirror. */
const OWN_SUBMISSION_GRACE_MS = 2000;
/**
 * The longest wait between two tries of one key, in retry periods. A record is never given up while
 * its failure may pass (the server away, objects still uploading): a final run record missed during
 * an outage would otherwise never reach the mirror, and wait_for_job would never return.
 */
const MAX_BACKOFF_PERIODS = 12;
const PERMANENT_CODES: ReadonlySet<string> = new Set(["invalid_job", "invalid_path", "unsafe_file"]);

export interface MirrorDownloaderOptions {
  log: (line: string) => void;
  retryMs?: number;
}

/**
 * Keeps a mirror folder queue equal to what NATS KV says (docs/PROTOCOL.md, "Several workstations"):
 * submissions into outbox/, runner records into inbox/, cancel requests, fetch receipts and heartbeats
 * into their files, and removes what KV deleted. It follows KV watches (initial values, then every
 * update), never polls. Only the holder of the mirror lock runs one.
 */
export class MirrorDownloader {
  readonly #target: MirrorTarget;
  readonly #log: (line: string) => void;
  readonly #retryMs: number;
  readonly #serial: KeyedSerial = createKeyedSerial();
  readonly #latest = new Map<string, MirrorEntry>();
  readonly #applied = new Map<string, number>();
  readonly #runFiles = new Map<string, AppliedFiles>();
  readonly #retries = new Map<string, NodeJS.Timeout>();
  readonly #failures = new Map<string, number>();
  readonly #stops: (() => void)[] = [];
  #running = 0;
  readonly #waiting: (() => void)[] = [];
  #closed = false;
  #restarting = false;
  /** Which start() the running watches belong to: a watch of an older one ending is expected. */
  #generation = 0;

  constructor(target: MirrorTarget, options: MirrorDownloaderOptions) {
    this.#target = target;
    this.#log = options.log;
    this.#retryMs = options.retryMs ?? RETRY_MS;
  }

  /** A full sync, then watches from where it began: nothing written meanwhile is missed. */
  async start(): Promise<void> {
    const generation = ++this.#generation;
    const from = (await this.#target.nats.kv.status()).streamInfo.state.last_seq;
    await this.sync();
    for (const prefix of MIRRORED_PREFIXES) {
      if (this.#closed || generation !== this.#generation) return;
      const iterator = await this.#target.nats.kv.watch({ key: prefix, resumeFromRevision: from + 1 });
      this.#stops.push(() => iterator.stop());
      void (async () => {
        for await (const entry of iterator) this.offer(toEntry(entry));
      })()
        .catch((error: unknown) =>
          this.#log(`nats mirror: the KV watch of ${prefix} failed: ${String(error)}`),
        )
        .finally(() => {
          if (generation === this.#generation) this.#watchEnded(prefix);
        });
    }
  }

  /** A watch that ends while the downloader runs (the server went away for good): all again from a full sync. */
  #watchEnded(prefix: string): void {
    if (this.#closed || this.#restarting) return;
    this.#restarting = true;
    this.#log(`nats mirror: the KV watch of ${prefix} ended; syncing again in ${this.#retryMs / 1000} s`);
    const timer = setTimeout(() => {
      // The other watch of this generation ends too: a new generation, so it does not restart again.
      this.#generation++;
      for (const stop of this.#stops.splice(0)) stop();
      this.#restarting = false;
      this.start().catch((error: unknown) => {
        this.#log(`nats mirror: sync failed (${(error as Error).message})`);
        this.#watchEnded(prefix);
      });
    }, this.#retryMs);
    timer.unref();
  }

  /** Reads every mirrored key once and applies it, then removes what KV no longer has. */
  async sync(): Promise<void> {
    const { kv } = this.#target.nats;
    const live = new Set<string>();
    for (const prefix of MIRRORED_PREFIXES) {
      for await (const key of await kv.keys(prefix)) if (serialKeyOf(key) !== undefined) live.add(key);
    }
    const keys = [...live];
    for (let i = 0; i < keys.length && !this.#closed; i += READ_BATCH) {
      const entries = await Promise.all(keys.slice(i, i + READ_BATCH).map((key) => kv.get(key)));
      for (const entry of entries) if (entry) this.offer(toEntry(entry));
    }
    // A key still failing is tried now rather than at the end of its backoff: the server answers again.
    for (const key of [...this.#retries.keys()]) this.#retryNow(key);
    await this.#serial.idle();
    await this.#removeVanished(live);
    await this.#serial.idle();
  }

  /** Takes a KV entry in; an entry older than one already seen for its key is ignored. */
  offer(entry: MirrorEntry): void {
    if (this.#closed) return;
    const serialKey = serialKeyOf(entry.key);
    if (serialKey === undefined) return;
    const known = this.#latest.get(entry.key);
    if (known && known.revision >= entry.revision) return;
    this.#latest.set(entry.key, entry);
    this.#failures.delete(entry.key);
    this.#schedule(serialKey, entry.key);
  }

  /** Resolves once every write queued so far has been made (or has failed and been logged). */
  idle(): Promise<void> {
    return this.#serial.idle();
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const stop of this.#stops.splice(0)) stop();
    for (const timer of this.#retries.values()) clearTimeout(timer);
    this.#retries.clear();
    await this.#serial.idle();
  }

  #schedule(serialKey: string, key: string): void {
    void this.#serial.run(serialKey, async () => {
      await this.#graceFor(key);
      await this.#limited(() => this.#drain(key));
    });
  }

  /**
   * A submission made on this machine is renamed into the mirror by its submitter right after its KV
   * record: a record younger than OWN_SUBMISSION_GRACE_MS is left to it that long (outside the
   * download slots), so it is not copied a second time beside that rename.
   */
  async #graceFor(key: string): Promise<void> {
    const entry = this.#latest.get(key);
    const job = parseJobKey(key);
    if (!entry || entry.deleted || job?.part !== "sub") return;
    const age = Date.now() - entry.createdMs;
    // The record's time is the server's clock: the wait is capped whatever the skew.
    const wait = Math.min(OWN_SUBMISSION_GRACE_MS, Math.max(0, OWN_SUBMISSION_GRACE_MS - age));
    if (wait === 0 || (await pathExists(join(this.#target.queue.outbox, job.jobId)))) return;
    await new Promise((resolve) => setTimeout(resolve, wait));
  }

  async #limited(task: () => Promise<void>): Promise<void> {
    while (this.#running >= PARALLEL_JOBS) await new Promise<void>((resolve) => this.#waiting.push(resolve));
    this.#running++;
    try {
      await task();
    } finally {
      this.#running--;
      this.#waiting.shift()?.();
    }
  }

  async #drain(key: string): Promise<void> {
    const entry = this.#latest.get(key);
    if (!entry || this.#closed || (this.#applied.get(key) ?? 0) >= entry.revision) return;
    try {
      await this.#apply(entry);
      this.#failures.delete(key);
    } catch (error) {
      // A record this version cannot read, or a path it must not write, stays so: no retry. Anything
      // else (the server away, objects missing or differing: a newer upload under way) is tried again.
      if (!(isProtocolError(error) && PERMANENT_CODES.has(error.code))) {
        const failures = (this.#failures.get(key) ?? 0) + 1;
        this.#failures.set(key, failures);
        const waitMs = this.#retryMs * Math.min(MAX_BACKOFF_PERIODS, 2 ** (failures - 1));
        // The first failure and then every tenth: an outage of hours must not fill the log.
        if (failures === 1 || failures % 10 === 0) {
          this.#log(
            `nats mirror: ${key} not mirrored yet (${(error as Error).message}); trying again in ${waitMs / 1000} s (failure ${failures})`,
          );
        }
        this.#retryLater(key, waitMs);
        return;
      }
      this.#failures.delete(key);
      this.#log(`nats mirror: ${key} (revision ${entry.revision}) not mirrored: ${(error as Error).message}`);
    }
    this.#applied.set(key, entry.revision);
    if (entry.deleted && this.#latest.get(key) === entry) {
      this.#latest.delete(key);
      this.#applied.delete(key);
    }
  }

  #retryLater(key: string, waitMs: number): void {
    if (this.#closed || this.#retries.has(key)) return;
    const timer = setTimeout(() => {
      this.#retries.delete(key);
      const serialKey = serialKeyOf(key);
      if (serialKey !== undefined) this.#schedule(serialKey, key);
    }, waitMs);
    timer.unref();
    this.#retries.set(key, timer);
  }

  #retryNow(key: string): void {
    const timer = this.#retries.get(key);
    const serialKey = serialKeyOf(key);
    if (timer === undefined || serialKey === undefined) return;
    clearTimeout(timer);
    this.#retries.delete(key);
    this.#schedule(serialKey, key);
  }

  async #apply(entry: MirrorEntry): Promise<void> {
    const { queue } = this.#target;
    const job = parseJobKey(entry.key);
    if (!job) {
      const path = carriedPath(queue, { kind: "runner", host: entry.key.slice(RUNNER_PREFIX.length) });
      if (path === undefined) throw new TypeError(`${entry.key} names no usable host file`);
      return this.#applyCarried(entry, path);
    }
    const { jobId, part } = job;
    if (part === "sub") {
      if (entry.deleted) return removeJobFolder(this.#target, join(queue.outbox, jobId));
      return applySubmission(
        this.#target,
        jobId,
        decodeRecord(entry.key, entry.value, SubmissionRecordSchema),
      );
    }
    if (part === "run") {
      if (entry.deleted) {
        this.#runFiles.delete(jobId);
        return removeJobFolder(this.#target, join(queue.inbox, jobId));
      }
      const record = decodeRecord(entry.key, entry.value, RunRecordSchema);
      this.#runFiles.set(jobId, await applyRun(this.#target, jobId, record, this.#runFiles.get(jobId)));
      return;
    }
    const target: CarriedTarget = part === "cancel" ? { kind: "cancel", jobId } : { kind: "fetch", jobId };
    return this.#applyCarried(entry, carriedPath(queue, target) as string);
  }

  async #applyCarried(entry: MirrorEntry, path: string): Promise<void> {
    if (entry.deleted) return removeCarried(path);
    await applyCarried(path, decodeRecord(entry.key, entry.value, CarriedFileSchema));
  }

  /** Mirror entries whose key KV does not hold (deleted while no downloader ran) go, once KV confirms. */
  async #removeVanished(live: ReadonlySet<string>): Promise<void> {
    const candidates = await mirroredKeysOnDisk(this.#target.queue);
    for (const key of candidates) {
      if (live.has(key) || this.#latest.has(key)) continue;
      const entry = await this.#target.nats.kv.get(key);
      // A key never written (or purged) gets a removal ordered before any real revision (1 and up).
      this.offer(entry ? toEntry(entry) : removalOf(key));
    }
  }
}
