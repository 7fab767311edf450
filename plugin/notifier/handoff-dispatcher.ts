import { channelNote } from "./channel-sender.ts";
import { HANDOFF_MARKER, type HandoffItem, handoffText, MAX_HANDOFF_ITEMS } from "./handoff-text.ts";
import { bestText, errorText, runTime, trialsText } from "./message-text.ts";
import type { NotifierContext } from "./notifier-context.ts";
import type { LedgerEntry } from "./notifier-ledger.ts";
import { holdsLock } from "./notifier-lock.ts";
import { CONTEXT_KEY, WAKE_REASON } from "./notifier-types.ts";
import { archivedIds, readInboxJob } from "./queue-reads.ts";
import { nextWakeAt, pruneWakeHistory } from "./wake-limits.ts";

/** Marks an entry's hand-off acknowledged when its results were fetched or archived (and drops it from the batch). */
export type CheckAcknowledgement = (entry: LedgerEntry, archived?: ReadonlySet<string>) => Promise<void>;

/**
 * Hands pending jobs to the post-processing agent: one system event plus an immediate wake per batch,
 * jobs that end together going out together, within the wake limits, again after resendAfterMs until acknowledged.
 */
export class HandoffDispatcher {
  readonly #ctx: NotifierContext;
  readonly #checkAck: CheckAcknowledgement;
  #batch = new Set<string>();
  #wakeHistory: number[] = [];
  #flushTimer: unknown;

  constructor(ctx: NotifierContext, checkAck: CheckAcknowledgement) {
    this.#ctx = ctx;
    this.#checkAck = checkAck;
  }

  get size(): number {
    return this.#batch.size;
  }

  add(id: string): void {
    this.#batch.add(id);
  }

  drop(id: string): void {
    this.#batch.delete(id);
  }

  /** Forgets the batch and its timer (the engine goes passive); the wake history stays. */
  reset(): void {
    if (this.#flushTimer !== undefined) this.#ctx.clock.clearTimeout(this.#flushTimer);
    this.#flushTimer = undefined;
    this.#batch.clear();
  }

  /** Batches every pending hand-off last sent resendAfterMs ago or more. */
  queueDueResends(now: number): void {
    let added = false;
    for (const entry of Object.values(this.#ctx.ledger()?.jobs ?? {})) {
      if (entry.handoff.state !== "pending" || this.#batch.has(entry.job_id)) continue;
      const last = entry.handoff.sent_at.at(-1);
      if (last === undefined || now - Date.parse(last) >= this.#ctx.options.resendAfterMs) {
        this.#batch.add(entry.job_id);
        added = true;
      }
    }
    if (added) this.scheduleFlush();
  }

  scheduleFlush(at?: number): void {
    const ctx = this.#ctx;
    if (this.#flushTimer !== undefined || !ctx.active()) return;
    const now = ctx.clock.now();
    const when = Math.max(
      at ?? now + ctx.options.batchWindowMs,
      nextWakeAt(this.#wakeHistory, now, ctx.options.wakeLimits),
    );
    this.#flushTimer = ctx.clock.setTimeout(() => {
      this.#flushTimer = undefined;
      void ctx.serial(() => this.#flush());
    }, when - now);
  }

  async #handoffItem(entry: LedgerEntry): Promise<HandoffItem> {
    const job = await readInboxJob(this.#ctx.queue, entry.job_id);
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

  async #flush(): Promise<void> {
    const ctx = this.#ctx;
    const ledger = ctx.ledger();
    if (!ledger) return;
    const archived = await archivedIds(ctx.queue);
    const due: LedgerEntry[] = [];
    for (const id of [...this.#batch]) {
      const entry = ledger.jobs[id];
      if (entry) await this.#checkAck(entry, archived);
      if (entry?.handoff.state !== "pending") {
        this.#batch.delete(id);
        continue;
      }
      due.push(entry);
    }
    await ctx.commit();
    if (due.length === 0) return;
    const now = ctx.clock.now();
    const allowed = nextWakeAt(this.#wakeHistory, now, ctx.options.wakeLimits);
    if (allowed > now) {
      this.scheduleFlush(allowed);
      return;
    }
    if (!(await holdsLock(ctx.dir, ctx.owner))) {
      await ctx.lostLock();
      return;
    }
    const chosen = due.slice(0, MAX_HANDOFF_ITEMS);
    const items = await Promise.all(chosen.map((entry) => this.#handoffItem(entry)));
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
      this.scheduleFlush();
      return;
    }
    this.#wakeHistory = pruneWakeHistory([...this.#wakeHistory, now], now, ctx.options.wakeLimits);
    const sentAt = new Date(now).toISOString();
    for (const entry of chosen) {
      if (entry.handoff.state === "pending") entry.handoff.sent_at.push(sentAt);
      this.#batch.delete(entry.job_id);
    }
    ctx.markDirty();
    await ctx.commit();
    ctx.log(
      "info",
      `${HANDOFF_MARKER} ${chosen.length} job(s) to agent "${agentId}" (session ${sessionKey}): system event ${queued ? "queued" : "not queued again (the same event is still waiting)"}, immediate wake requested: ${chosen.map((e) => e.job_id).join(", ")}`,
    );
    if (this.#batch.size > 0) this.scheduleFlush();
  }
}
