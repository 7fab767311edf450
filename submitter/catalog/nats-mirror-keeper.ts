import type { ProcessIdentity } from "../../protocol/process-identity.ts";
import { identify } from "../../protocol/process-identity.ts";
import type { CatalogKind } from "./job-catalog.ts";
import { MirrorDownloader } from "./nats-mirror.ts";
import type { MirrorTarget } from "./nats-mirror-apply.ts";
import type { MirrorLockAttempt } from "./nats-mirror-lock.ts";
import { tryMirrorLock } from "./nats-mirror-lock.ts";

/** How often a process without the lock tries to take it: a dead holder is replaced within this. */
export const MIRROR_LOCK_RETRY_MS = 3000;
/** How long a starting server waits for its first full sync before serving from the mirror as it is. */
const WATCHED_SYNC_WAIT_MS = 5000;

export interface MirrorKeeperOptions {
  /** "watched" (a server) serves after a few seconds of its first sync; "disk" (a command) waits for all of it. */
  kind: CatalogKind;
  /** The folder holding the lock (the mirror's, beside its queue). */
  lockDir: string;
  log: (line: string) => void;
  retryMs?: number;
  syncWaitMs?: number;
}

/**
 * Runs the mirror downloader in whichever process holds the mirror lock. A process without it retries
 * every few seconds, so when the holder dies another takes over; a one-shot command that finds no
 * live holder takes the lock, syncs fully before it reads, and follows KV until it closes.
 */
export class MirrorKeeper {
  readonly #target: MirrorTarget;
  readonly #options: MirrorKeeperOptions;
  #downloader: MirrorDownloader | undefined;
  #release: (() => Promise<void>) | undefined;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  #trying: Promise<void> | undefined;
  #self: ProcessIdentity | undefined;

  constructor(target: MirrorTarget, options: MirrorKeeperOptions) {
    this.#target = target;
    this.#options = options;
  }

  /** Whether this process runs the downloader now. */
  get holding(): boolean {
    return this.#downloader !== undefined;
  }

  async start(): Promise<void> {
    if (this.#options.kind === "disk") {
      // A failing first sync fails the command: it would otherwise answer from a stale mirror.
      const attempt = await this.#attempt();
      if (attempt.held) await this.#run(attempt);
      // A long one (wait, log --follow) takes over should the holder stop meanwhile.
      else this.#retryLater();
      return;
    }
    this.#trying = this.#try();
    await Promise.race([
      this.#trying,
      new Promise((resolve) => setTimeout(resolve, this.#options.syncWaitMs ?? WATCHED_SYNC_WAIT_MS).unref()),
    ]);
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    await this.#trying?.catch(() => undefined);
    await this.#stop();
  }

  async #try(): Promise<void> {
    if (this.#closed) return;
    try {
      const attempt = await this.#attempt();
      if (attempt.held) {
        await this.#run(attempt);
        return;
      }
    } catch (error) {
      this.#options.log(`nats mirror: ${(error as Error).message}; trying again`);
      await this.#stop();
    }
    this.#retryLater();
  }

  async #attempt(): Promise<MirrorLockAttempt> {
    this.#self ??= await identify(process.pid);
    return tryMirrorLock(this.#options.lockDir, this.#self);
  }

  #retryLater(): void {
    if (this.#closed) return;
    this.#timer = setTimeout(() => {
      this.#trying = this.#try();
    }, this.#options.retryMs ?? MIRROR_LOCK_RETRY_MS);
    this.#timer.unref();
  }

  async #run(attempt: Extract<MirrorLockAttempt, { held: true }>): Promise<void> {
    this.#release = attempt.release;
    if (attempt.tookOver) {
      this.#options.log(
        `nats mirror: took over the downloader lock from pid ${attempt.tookOver.pid}, which is gone`,
      );
    }
    const downloader = new MirrorDownloader(this.#target, { log: this.#options.log });
    this.#downloader = downloader;
    try {
      await downloader.start();
    } catch (error) {
      await this.#stop();
      throw new Error(
        `the mirror of ${this.#target.nats.url} could not be brought up to date (${(error as Error).message}): check that the NATS server answers`,
        { cause: error },
      );
    }
  }

  async #stop(): Promise<void> {
    const downloader = this.#downloader;
    const release = this.#release;
    this.#downloader = undefined;
    this.#release = undefined;
    await downloader?.close();
    await release?.();
  }
}
