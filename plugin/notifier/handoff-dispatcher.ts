import type { NotifierReads } from "./catalog-reads.ts";
import { channelNote } from "./channel-sender.ts";
import { HANDOFF_MARKER, type HandoffItem, handoffText, MAX_HANDOFF_ITEMS } from "./handoff-text.ts";
import type { LedgerBook } from "./ledger-book.ts";
import { bestText, errorText, runTime, trialsText } from "./message-text.ts";
import type { NotifierContext, Session } from "./notifier-context.ts";
import type { LedgerEntry } from "./notifier-ledger.ts";
import { CONTEXT_KEY, WAKE_REASON } from "./notifier-types.ts";
import { nextWakeAt, pruneWakeHistory } from "./wake-limits.ts";

/** What a flush did, and so when the engine flushes next. */
export type FlushResult =
  /** Nothing left to hand over. */
  | { kind: "idle" }
  /** The wake limits allow the next wake only at `at`. */
  | { kind: "wait"; at: number }
  /** Handing over failed; try again after the batch window. */
  | { kind: "failed" }
  /** Handed over; `more` when jobs beyond MAX_HANDOFF_ITEMS are still waiting. */
  | { kind: "sent"; more: boolean }
  | { kind: "lost-lock" };

/**
 * Hands pending jobs to the post-processing agent: one system event plus an immediate wake per batch,
 * jobs that end together going out together, within the wake limits, again after resendAfterMs until
 * acknowledged. Holds the batch and the wake history; the engine decides when to flush.
 */
export class HandoffDispatcher {
  readonly #ctx: NotifierContext;
  #batch = new Set<string>();
  #wakeHistory: number[] = [];

  constructor(ctx: NotifierContext) {
    this.#ctx = ctx;
  }

  get size(): number {
    return this.#batch.size;
  }

  ids(): string[] {
    return [...this.#batch];
  }

  add(id: string): void {
    this.#batch.add(id);
  }

  drop(id: string): void {
    this.#batch.delete(id);
  }

  /** Forgets the batch (the engine goes passive); the wake history stays. */
  reset(): void {
    this.#batch.clear();
  }

  /** Batches every pending hand-off last sent resendAfterMs ago or more; true when one was added. */
  queueDueResends(book: LedgerBook, now: number): boolean {
    let added = false;
    for (const id of book.dueHandoffs(now, this.#ctx.options.resendAfterMs)) {
      if (this.#batch.has(id)) continue;
      this.#batch.add(id);
      added = true;
    }
    return added;
  }

  /** When the next flush should run: after the batch window (or at `at`), and never before the wake limits allow. */
  flushAt(now: number, at?: number): number {
    const { batchWindowMs, wakeLimits } = this.#ctx.options;
    return Math.max(at ?? now + batchWindowMs, nextWakeAt(this.#wakeHistory, now, wakeLimits));
  }

  async #handoffItem(reads: NotifierReads, entry: LedgerEntry): Promise<HandoffItem> {
    const job = (await reads.runnerJob(entry.job_id))?.job;
    let summary: string = entry.status;
    if (job) {
      const facts =
        entry.status === "completed"
          ? [trialsText(job), bestText(job, 4)]
          : [errorText(job)?.slice(0, 240), trialsText(job)];
      summary = [`${entry.status} ${job.started_at ? `after ${runTime(job)}` : runTime(job)}`, ...facts]
        .filter((part) => part !== undefined)
        .join(", ");
    }
    return {
      jobId: entry.job_id,
      summary,
      channelNote: channelNote(entry),
      reminder: entry.handoff.sent_at.length > 0,
    };
  }

  /** Hands over the batch's pending jobs (acknowledgements already checked), recording each hand-off's time. */
  async flush(session: Session): Promise<FlushResult> {
    const ctx = this.#ctx;
    const { book, lock } = session;
    const due: LedgerEntry[] = [];
    for (const id of [...this.#batch]) {
      const entry = book.get(id);
      if (entry?.handoff.state === "pending") due.push(entry);
      else this.#batch.delete(id);
    }
    if (due.length === 0) return { kind: "idle" };
    const now = ctx.clock.now();
    const allowed = nextWakeAt(this.#wakeHistory, now, ctx.options.wakeLimits);
    if (allowed > now) return { kind: "wait", at: allowed };
    if (!(await lock.holds())) return { kind: "lost-lock" };
    const chosen = due.slice(0, MAX_HANDOFF_ITEMS);
    const items = await Promise.all(chosen.map((entry) => this.#handoffItem(session.reads, entry)));
    const text = handoffText(items, ctx.options.agentId, ctx.options.resendAfterMs);
    const { agentId, sessionKey } = ctx.options;
    let queued: boolean;
    try {
      queued = ctx.ports.enqueueSystemEvent(text, { agentId, sessionKey, contextKey: CONTEXT_KEY });
      ctx.ports.requestHeartbeat({
        source: "hook",
        intent: "immediate",
        reason: WAKE_REASON,
        agentId,
        sessionKey,
      });
    } catch (error) {
      ctx.log(
        "error",
        `handing jobs to agent "${agentId}" failed: ${(error as Error).message}; trying again shortly`,
      );
      this.#wakeHistory.push(now);
      return { kind: "failed" };
    }
    this.#wakeHistory = pruneWakeHistory([...this.#wakeHistory, now], now, ctx.options.wakeLimits);
    const sentAt = new Date(now).toISOString();
    for (const entry of chosen) {
      book.change(entry.job_id, (e) => {
        if (e.handoff.state === "pending") e.handoff.sent_at.push(sentAt);
      });
      this.#batch.delete(entry.job_id);
    }
    await book.commit();
    ctx.log(
      "info",
      `${HANDOFF_MARKER} ${chosen.length} job(s) to agent "${agentId}" (session ${sessionKey}): system event ${queued ? "queued" : "not queued again (the same event is still waiting)"}, immediate wake requested: ${chosen.map((e) => e.job_id).join(", ")}`,
    );
    return { kind: "sent", more: this.#batch.size > 0 };
  }
}
