import { mkdir } from "node:fs/promises";
import type { QueuePaths } from "../../protocol/index.ts";
import { queuePaths } from "../../protocol/index.ts";
import type { JobCatalog } from "../../submitter/catalog/job-catalog.ts";
import { WatchedCatalog } from "../../submitter/catalog/watched-catalog.ts";
import { catalogReads } from "./catalog-reads.ts";
import { ChannelSender } from "./channel-sender.ts";
import { HandoffDispatcher } from "./handoff-dispatcher.ts";
import type { RecordResult } from "./job-recorder.ts";
import { JobRecorder, PAGE_ROWS } from "./job-recorder.ts";
import type { LedgerStore } from "./ledger-store.ts";
import { workAfterRestart } from "./notification-policy.ts";
import { activate, cannotFollow, passiveMessage, queueName } from "./notifier-activation.ts";
import type { NotifierContext, Session } from "./notifier-context.ts";
import { prefixedLog } from "./notifier-context.ts";
import { notifierStateDir } from "./notifier-ledger.ts";
import { NotifierLock, newLockOwner } from "./notifier-lock.ts";
import type { NotifierOptions, NotifierPorts } from "./notifier-types.ts";
import { resolveNotifierOptions, SYSTEM_CLOCK } from "./notifier-types.ts";

export type { Clock, NotifierLog, NotifierOptions, NotifierPorts, WakeRequest } from "./notifier-types.ts";
export { CONTEXT_KEY, SYSTEM_CLOCK, WAKE_REASON } from "./notifier-types.ts";

/** One activation as the engine holds it: the session its parts get, and the catalog it closes. */
interface Active extends Session {
  readonly catalog: JobCatalog;
  readonly store: LedgerStore;
  readonly unsubscribe: () => void;
}

/**
 * Follows the queue through the job catalog's changes and, when a job ends, posts its one channel
 * message and hands it to the post-processing agent (system event + immediate wake), batching jobs
 * that end together, re-sending a hand-off until the agent fetches the results. Bookkeeping lives in
 * `<queue>/.state/notifier/` (ledger.sqlite + lock.json); only the lock holder acts. The engine alone
 * holds the lock and the ledger: its parts get them per call (a Session) and report what they found.
 */
export class NotifierEngine {
  readonly #ctx: NotifierContext;
  readonly #queue: QueuePaths;
  readonly #dir: string;
  readonly #lock: NotifierLock;
  readonly #sender: ChannelSender;
  readonly #handoffs: HandoffDispatcher;
  readonly #recorder: JobRecorder;
  /** Set while this engine holds the lock (is active); undefined while passive. */
  #active: Active | undefined;
  #stopped = false;
  #chain: Promise<void> = Promise.resolve();
  #checkTimers = new Map<string, unknown>();
  #rescanTimer: unknown;
  #lockTimer: unknown;
  #flushTimer: unknown;
  #passiveLogged = false;
  #activationError: string | undefined;

  constructor(options: NotifierOptions, ports: NotifierPorts) {
    const resolved = resolveNotifierOptions(options);
    const clock = ports.clock ?? SYSTEM_CLOCK;
    this.#queue = queuePaths(resolved.queueDir);
    this.#dir = notifierStateDir(this.#queue.stateDir);
    this.#lock = new NotifierLock(this.#dir, {
      owner: newLockOwner(),
      now: () => clock.now(),
      staleAfterMs: 3 * resolved.lockRefreshMs,
    });
    this.#ctx = { options: resolved, ports, clock, log: prefixedLog(ports.log) };
    this.#sender = new ChannelSender(this.#ctx);
    this.#handoffs = new HandoffDispatcher(this.#ctx);
    this.#recorder = new JobRecorder(this.#ctx);
  }

  get active(): boolean {
    return this.#active !== undefined;
  }

  /** Takes the queue's notifier lock or stays passive (retrying), then follows the queue. */
  async start(): Promise<void> {
    await mkdir(this.#dir, { recursive: true });
    await mkdir(this.#queue.fetchedDir, { recursive: true });
    await this.#activateOrSay();
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

  /** Reads what changed since the last rescan, and every open job, now (also what the periodic safety-net rescan does). */
  rescan(): Promise<void> {
    return this.#serial((session) => this.#scanAll(session));
  }

  /** How many job folders the catalog follows now: the jobs whose outcome is still open. */
  watchedJobCount(): number {
    const catalog = this.#active?.catalog;
    return catalog instanceof WatchedCatalog ? catalog.index.watchedInboxIds().length : 0;
  }

  /** Resolves once everything queued so far (scans, checks, ledger writes) has run. */
  idle(): Promise<void> {
    return this.#chain;
  }

  /** Runs `task` after everything queued before it, and only while this engine holds the lock. */
  #serial(task: (session: Active) => Promise<void>): Promise<void> {
    const run = this.#chain.then(() => (this.#active ? task(this.#active) : undefined));
    this.#chain = run.catch((error: unknown) =>
      this.#ctx.log("error", `${(error as Error).message ?? String(error)}`),
    );
    return this.#chain;
  }

  /** Activates, or says why not (once until the reason changes) and leaves the retry to the lock timer. */
  async #activateOrSay(): Promise<void> {
    try {
      await this.#tryActivate();
      this.#activationError = undefined;
    } catch (error) {
      const message = (error as Error).message ?? String(error);
      if (message !== this.#activationError) this.#ctx.log("error", cannotFollow(this.#ctx.options, message));
      this.#activationError = message;
    }
  }

  async #tryActivate(): Promise<void> {
    if (this.#stopped || this.#active) return;
    const { log, options } = this.#ctx;
    const activation = await activate(this.#ctx, this.#lock, this.#dir);
    if (activation.kind === "passive") {
      if (!this.#passiveLogged) log("info", passiveMessage(activation.holder, queueName(options)));
      this.#passiveLogged = true;
      return;
    }
    this.#passiveLogged = false;
    const { book, store, catalog } = activation;
    let unsubscribe: () => void;
    try {
      // Subscribed before the first scan: whatever changes after the scan read a job is reported.
      unsubscribe = await catalog.subscribe("*", (event) => this.#scheduleCheck(event.job_id), {
        receipts: true,
      });
    } catch (error) {
      await catalog.close();
      await book.close();
      store.close();
      throw error;
    }
    const reads = catalogReads(catalog, this.#queue.inbox);
    this.#active = { book, store, catalog, unsubscribe, reads, lock: this.#lock };
    await this.#serial(async (session) => {
      await this.#scanAll(session);
      book.endFirstScan();
      await book.commit();
      const open = book.openIds();
      for (let at = 0; at < open.length; at += PAGE_ROWS) {
        const entries = open.slice(at, at + PAGE_ROWS).flatMap((id) => book.get(id) ?? []);
        const work = workAfterRestart(entries);
        for (const id of work.handoffs) this.#handoffs.add(id);
        for (const id of work.resends) {
          log(
            "warn",
            `${id}: its channel message was being sent when the notifier stopped; sending it again (it may arrive twice)`,
          );
          this.#startSend(session, id);
        }
      }
      if (this.#handoffs.size > 0) this.#scheduleFlush();
    });
    this.#armRescan();
  }

  /** Stops acting: after the queued work on stop(), at once when the lock was lost (no more writes). */
  async #deactivate(lost: boolean): Promise<void> {
    if (!lost) await this.#chain;
    const active = this.#active;
    this.#active = undefined;
    // Once the lock is lost the ledger belongs to the new holder.
    if (lost) void active?.book.close();
    const { clock } = this.#ctx;
    for (const timer of this.#checkTimers.values()) clock.clearTimeout(timer);
    this.#checkTimers.clear();
    for (const timer of [this.#rescanTimer, this.#flushTimer]) {
      if (timer !== undefined) clock.clearTimeout(timer);
    }
    this.#rescanTimer = undefined;
    this.#flushTimer = undefined;
    this.#handoffs.reset();
    if (!active) return;
    active.unsubscribe();
    await active.catalog.close();
    if (!lost) await active.book.commit();
    await active.book.close();
    active.store.close();
  }

  #armLockTimer(): void {
    if (this.#stopped) return;
    this.#lockTimer = this.#ctx.clock.setTimeout(() => {
      void this.#lockTick().finally(() => this.#armLockTimer());
    }, this.#ctx.options.lockRefreshMs);
  }

  async #lockTick(): Promise<void> {
    try {
      if (!this.#active) await this.#activateOrSay();
      else if (!(await this.#lock.refresh())) await this.#lostLock();
    } catch (error) {
      this.#ctx.log("error", `lock refresh failed: ${(error as Error).message}`);
    }
  }

  async #lostLock(): Promise<void> {
    if (!this.#active) return;
    this.#ctx.log("error", "lost the notifier lock to another process (this one stalled); going passive");
    // Not awaiting the queued work: this may run inside it, and nothing queued runs once inactive.
    await this.#deactivate(true);
  }

  #armRescan(): void {
    if (!this.#active || this.#stopped) return;
    this.#rescanTimer = this.#ctx.clock.setTimeout(() => {
      this.#rescanTimer = undefined;
      void this.rescan().finally(() => this.#armRescan());
    }, this.#ctx.options.rescanMs);
  }

  /** A change of the job: read it once it has been quiet for settleMs (Syncthing writes in bursts). */
  #scheduleCheck(id: string): void {
    const { clock, options } = this.#ctx;
    const previous = this.#checkTimers.get(id);
    if (previous !== undefined) clock.clearTimeout(previous);
    const timer = clock.setTimeout(() => {
      this.#checkTimers.delete(id);
      void this.#serial(async (session) => {
        await this.#react(session, await this.#recorder.check(session, id));
        await session.book.commit();
      });
    }, options.settleMs);
    this.#checkTimers.set(id, timer);
  }

  #scheduleFlush(at?: number): void {
    if (this.#flushTimer !== undefined || !this.#active) return;
    const { clock } = this.#ctx;
    const now = clock.now();
    this.#flushTimer = clock.setTimeout(() => {
      this.#flushTimer = undefined;
      void this.#serial((session) => this.#flush(session));
    }, this.#handoffs.flushAt(now, at) - now);
  }

  #startSend(session: Active, id: string): void {
    void this.#sender
      .send(session, id)
      .then((end) => (end === "lost-lock" && this.#active === session ? this.#lostLock() : undefined))
      .catch((error: unknown) =>
        this.#ctx.log("error", `${id}: channel send crashed: ${(error as Error).message}`),
      );
  }

  async #flush(session: Active): Promise<void> {
    for (const id of await this.#recorder.acknowledgeAll(session, this.#handoffs.ids()))
      this.#handoffs.drop(id);
    await session.book.commit();
    const result = await this.#handoffs.flush(session);
    if (result.kind === "wait") this.#scheduleFlush(result.at);
    else if (result.kind === "failed" || (result.kind === "sent" && result.more)) this.#scheduleFlush();
    else if (result.kind === "lost-lock") await this.#lostLock();
  }

  async #scanAll(session: Active): Promise<void> {
    for await (const results of this.#recorder.rescan(session)) {
      for (const result of results) await this.#react(session, result);
      await session.book.commit();
    }
    if (this.#handoffs.queueDueResends(session.book, this.#ctx.clock.now())) this.#scheduleFlush();
    await session.book.commit();
  }

  /** Acts on what reading a job recorded: sends its message, batches its hand-off, or drops it from the batch. */
  async #react(session: Active, { id, recorded, acknowledged }: RecordResult): Promise<void> {
    if (acknowledged) this.#handoffs.drop(id);
    if (recorded?.notified.state === "sending") {
      // Recorded before sending: a crash mid-send re-sends on start rather than losing the message.
      await session.book.commit();
      this.#startSend(session, id);
    }
    if (recorded?.handoff.state === "pending") {
      this.#handoffs.add(id);
      this.#scheduleFlush();
    }
  }
}
