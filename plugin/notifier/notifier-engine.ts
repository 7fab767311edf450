import { mkdir } from "node:fs/promises";
import type { QueuePaths } from "../../protocol/index.ts";
import { queuePaths } from "../../protocol/index.ts";
import { ChannelSender } from "./channel-sender.ts";
import { HandoffDispatcher } from "./handoff-dispatcher.ts";
import { JobRecorder } from "./job-recorder.ts";
import type { LedgerBook } from "./ledger-book.ts";
import { prunable, workAfterRestart } from "./notification-policy.ts";
import { activate, passiveMessage } from "./notifier-activation.ts";
import type { NotifierContext } from "./notifier-context.ts";
import { prefixedLog } from "./notifier-context.ts";
import type { LedgerEntry } from "./notifier-ledger.ts";
import { notifierStateDir } from "./notifier-ledger.ts";
import { NotifierLock, newLockOwner } from "./notifier-lock.ts";
import type { NotifierOptions, NotifierPorts } from "./notifier-types.ts";
import { resolveNotifierOptions, SYSTEM_CLOCK } from "./notifier-types.ts";
import { folderReads } from "./queue-reads.ts";
import { QueueWatchers } from "./queue-watchers.ts";

export type { Clock, NotifierLog, NotifierOptions, NotifierPorts, WakeRequest } from "./notifier-types.ts";
export { CONTEXT_KEY, SYSTEM_CLOCK, WAKE_REASON } from "./notifier-types.ts";

/**
 * Watches the submitting side's view of inbox/ and, when a job ends, posts its one channel message
 * and hands it to the post-processing agent (system event + immediate wake), batching jobs that end
 * together, re-sending a hand-off until the agent fetches the results. Bookkeeping lives in
 * `<queue>/.state/notifier/` (ledger.json + lock.json); only the lock holder acts. The engine alone
 * holds the lock and the ledger: its parts get the ledger per call and report what they found.
 */
export class NotifierEngine {
  readonly #ctx: NotifierContext;
  readonly #queue: QueuePaths;
  readonly #dir: string;
  readonly #lock: NotifierLock;
  readonly #sender: ChannelSender;
  readonly #handoffs: HandoffDispatcher;
  readonly #recorder: JobRecorder;
  /** The ledger while this engine holds the lock (is active); undefined while passive. */
  #book: LedgerBook | undefined;
  #stopped = false;
  #chain: Promise<void> = Promise.resolve();
  #watchers: QueueWatchers | undefined;
  #checkTimers = new Map<string, unknown>();
  #rescanTimer: unknown;
  #lockTimer: unknown;
  #flushTimer: unknown;
  #passiveLogged = false;

  constructor(options: NotifierOptions, ports: NotifierPorts) {
    const resolved = resolveNotifierOptions(options);
    const clock = ports.clock ?? SYSTEM_CLOCK;
    this.#queue = queuePaths(options.queueDir);
    this.#dir = notifierStateDir(this.#queue.stateDir);
    this.#lock = new NotifierLock(this.#dir, {
      owner: newLockOwner(),
      now: () => clock.now(),
      staleAfterMs: 3 * resolved.lockRefreshMs,
    });
    this.#ctx = {
      options: resolved,
      ports,
      clock,
      reads: folderReads(this.#queue),
      log: prefixedLog(ports.log),
    };
    this.#sender = new ChannelSender(this.#ctx);
    this.#handoffs = new HandoffDispatcher(this.#ctx);
    this.#recorder = new JobRecorder(this.#ctx);
  }

  get active(): boolean {
    return this.#book !== undefined;
  }

  /** Takes the queue's notifier lock or stays passive (retrying), then watches. */
  async start(): Promise<void> {
    await mkdir(this.#dir, { recursive: true });
    await mkdir(this.#queue.fetchedDir, { recursive: true });
    await this.#tryActivate();
    this.#armLockTimer();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#lockTimer !== undefined) this.#ctx.clock.clearTimeout(this.#lockTimer);
    this.#lockTimer = undefined;
    this.#sender.halt();
    await this.#deactivate(false);
    await this.#lock.release().catch(() => undefined);
  }

  /** Reads every job now (also what the periodic safety-net rescan does). */
  rescan(): Promise<void> {
    return this.#serial((book) => this.#scanAll(book));
  }

  /** How many inbox/<id>/ folders are watched now: the jobs whose outcome is still open. */
  watchedJobCount(): number {
    return this.#watchers?.count ?? 0;
  }

  /** Resolves once everything queued so far (scans, checks, ledger writes) has run. */
  idle(): Promise<void> {
    return this.#chain;
  }

  /** Runs `task` after everything queued before it, and only while this engine holds the lock. */
  #serial(task: (book: LedgerBook) => Promise<void>): Promise<void> {
    const run = this.#chain.then(() => (this.#book ? task(this.#book) : undefined));
    this.#chain = run.catch((error: unknown) =>
      this.#ctx.log("error", `${(error as Error).message ?? String(error)}`),
    );
    return this.#chain;
  }

  async #tryActivate(): Promise<void> {
    if (this.#stopped || this.#book) return;
    const { log, options } = this.#ctx;
    const activation = await activate(this.#ctx, this.#lock, this.#dir);
    if (activation.kind === "passive") {
      if (!this.#passiveLogged) log("info", passiveMessage(activation.holder, options.queueDir));
      this.#passiveLogged = true;
      return;
    }
    this.#passiveLogged = false;
    this.#book = activation.book;
    this.#watchers = new QueueWatchers(this.#queue, {
      onJob: (id) => this.#scheduleCheck(id),
      onError: (message) => log("warn", message),
      decided: (id) => !this.#book?.open || this.#book.get(id) !== undefined,
    });
    await this.#watchers.start();
    await this.#serial(async (book) => {
      await this.#scanAll(book);
      book.endFirstScan();
      book.touch();
      await book.commit();
      const work = workAfterRestart(book.entries());
      for (const id of work.handoffs) this.#handoffs.add(id);
      for (const id of work.resends) {
        log(
          "warn",
          `${id}: its channel message was being sent when the notifier stopped; sending it again (it may arrive twice)`,
        );
        this.#startSend(book, id);
      }
      if (this.#handoffs.size > 0) this.#scheduleFlush();
    });
    this.#armRescan();
  }

  /** Stops acting: after the queued work on stop(), at once when the lock was lost (no more writes). */
  async #deactivate(lost: boolean): Promise<void> {
    if (!lost) await this.#chain;
    const book = this.#book;
    this.#book = undefined;
    // Once the lock is lost the ledger belongs to the new holder.
    if (lost) void book?.close();
    const { clock } = this.#ctx;
    for (const timer of this.#checkTimers.values()) clock.clearTimeout(timer);
    this.#checkTimers.clear();
    for (const timer of [this.#rescanTimer, this.#flushTimer])
      if (timer !== undefined) clock.clearTimeout(timer);
    this.#rescanTimer = undefined;
    this.#flushTimer = undefined;
    this.#handoffs.reset();
    const watchers = this.#watchers;
    this.#watchers = undefined;
    await watchers?.close();
    if (book && !lost) {
      await book.commit();
      await book.close();
    }
  }

  #armLockTimer(): void {
    if (this.#stopped) return;
    this.#lockTimer = this.#ctx.clock.setTimeout(() => {
      void this.#lockTick().finally(() => this.#armLockTimer());
    }, this.#ctx.options.lockRefreshMs);
  }

  async #lockTick(): Promise<void> {
    try {
      if (!this.#book) await this.#tryActivate();
      else if (!(await this.#lock.refresh())) await this.#lostLock();
    } catch (error) {
      this.#ctx.log("error", `lock refresh failed: ${(error as Error).message}`);
    }
  }

  async #lostLock(): Promise<void> {
    if (!this.#book) return;
    this.#ctx.log("error", "lost the notifier lock to another process (this one stalled); going passive");
    // Not awaiting the queued work: this may run inside it, and nothing queued runs once inactive.
    await this.#deactivate(true);
  }

  #armRescan(): void {
    if (!this.#book || this.#stopped) return;
    this.#rescanTimer = this.#ctx.clock.setTimeout(() => {
      this.#rescanTimer = undefined;
      void this.rescan().finally(() => this.#armRescan());
    }, this.#ctx.options.rescanMs);
  }

  #scheduleCheck(id: string): void {
    const { clock, options } = this.#ctx;
    const previous = this.#checkTimers.get(id);
    if (previous !== undefined) clock.clearTimeout(previous);
    const timer = clock.setTimeout(() => {
      this.#checkTimers.delete(id);
      void this.#serial(async (book) => {
        await this.#checkJob(book, id);
        await book.commit();
      });
    }, options.settleMs);
    this.#checkTimers.set(id, timer);
  }

  #scheduleFlush(at?: number): void {
    if (this.#flushTimer !== undefined || !this.#book) return;
    const { clock } = this.#ctx;
    const now = clock.now();
    this.#flushTimer = clock.setTimeout(() => {
      this.#flushTimer = undefined;
      void this.#serial((book) => this.#flush(book));
    }, this.#handoffs.flushAt(now, at) - now);
  }

  #startSend(book: LedgerBook, id: string): void {
    void this.#sender
      .send(book, this.#lock, id)
      .then((end) => (end === "lost-lock" && this.#book === book ? this.#lostLock() : undefined))
      .catch((error: unknown) =>
        this.#ctx.log("error", `${id}: channel send crashed: ${(error as Error).message}`),
      );
  }

  async #flush(book: LedgerBook): Promise<void> {
    const archived = await this.#ctx.reads.archivedIds();
    for (const id of this.#handoffs.ids()) await this.#acknowledge(book, book.get(id), archived);
    await book.commit();
    const result = await this.#handoffs.flush(book, this.#lock);
    if (result.kind === "wait") this.#scheduleFlush(result.at);
    else if (result.kind === "failed" || (result.kind === "sent" && result.more)) this.#scheduleFlush();
    else if (result.kind === "lost-lock") await this.#lostLock();
  }

  async #acknowledge(
    book: LedgerBook,
    entry: LedgerEntry | undefined,
    archived: ReadonlySet<string>,
  ): Promise<void> {
    if (entry && (await this.#recorder.acknowledge(book, entry, archived))) this.#handoffs.drop(entry.job_id);
  }

  async #scanAll(book: LedgerBook): Promise<void> {
    const { reads, log, clock } = this.#ctx;
    const names = await reads.inboxIds();
    if (!names) log("warn", `${this.#queue.inbox} does not exist yet; waiting for it`);
    const archived = await reads.archivedIds();
    const present = new Set(names);
    for (const id of present) await this.#checkJob(book, id, archived);
    await this.#watchers?.forgetAllBut(present);
    const now = clock.now();
    for (const entry of book.entries()) {
      const inInbox = present.has(entry.job_id);
      if (!inInbox && entry.handoff.state === "pending") await this.#acknowledge(book, entry, archived);
      else if (prunable(entry, inInbox, now)) book.remove(entry.job_id);
    }
    if (this.#handoffs.queueDueResends(book, now)) this.#scheduleFlush();
    await book.commit();
  }

  async #checkJob(book: LedgerBook, id: string, archived?: ReadonlySet<string>): Promise<void> {
    const { outcome, recorded, acknowledged } = await this.#recorder.record(book, id, archived);
    if (acknowledged) this.#handoffs.drop(id);
    if (recorded?.notified.state === "sending") {
      // Recorded before sending: a crash mid-send re-sends on start rather than losing the message.
      await book.commit();
      this.#startSend(book, id);
    }
    if (recorded?.handoff.state === "pending") {
      this.#handoffs.add(id);
      this.#scheduleFlush();
    }
    await this.#watchers?.follow(id, outcome);
  }
}
