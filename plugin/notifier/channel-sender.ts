import type { NotifierReads } from "./catalog-reads.ts";
import type { LedgerBook } from "./ledger-book.ts";
import { channelMessage, logLinesFor } from "./message-text.ts";
import { channelTarget } from "./notifier-config.ts";
import type { NotifierContext, Session } from "./notifier-context.ts";
import type { LedgerEntry } from "./notifier-ledger.ts";

/** How one send ended: recorded in the ledger, or left for the engine (stopped, lock lost, already sending). */
export type SendEnd = "sent" | "failed" | "unmapped" | "halted" | "lost-lock" | "busy";

/** The hand-off's line on what the team channel was told about a job. */
export function channelNote(entry: LedgerEntry): string {
  const channel = entry.channel || "(none)";
  const n = entry.notified;
  switch (n.state) {
    case "sent":
      return `Team channel ${channel} was notified.`;
    case "sending":
      return `Team channel ${channel} is being notified.`;
    case "skipped":
      return n.reason === "notify_off"
        ? "No channel message: the job's notify flag is off for this outcome."
        : "No channel message: the job ended before the notifier started.";
    case "unmapped":
      return `Channel ${channel} has NO mapping, so the team was NOT told: post the outcome there yourself and ask an operator to add notifier.channels[${JSON.stringify(channel)}] to the plugin config.`;
    case "failed":
      return `Posting to ${channel} FAILED (${n.last_error}): tell the team yourself.`;
  }
}

/** Posts each ended job's one channel message, retrying with waits and recording every attempt in the ledger. */
export class ChannelSender {
  readonly #ctx: NotifierContext;
  #sending = new Set<string>();
  #sleepers = new Set<() => void>();
  #halted = false;

  constructor(ctx: NotifierContext) {
    this.#ctx = ctx;
  }

  /** Sends a job's message, unless it is already being sent; resolves with how it ended. */
  async send(session: Session, id: string): Promise<SendEnd> {
    if (this.#sending.has(id)) return "busy";
    this.#sending.add(id);
    try {
      return await this.#sendWithRetries(session, id);
    } finally {
      this.#sending.delete(id);
    }
  }

  /** Stops every send for good: waits between retries end at once and no attempt follows (the engine is stopping). */
  halt(): void {
    this.#halted = true;
    for (const wake of this.#sleepers) wake();
  }

  async #messageFor(reads: NotifierReads, entry: LedgerEntry): Promise<string> {
    const found = await reads.runnerJob(entry.job_id);
    if (!found)
      return `${entry.job_id} ${entry.status}${entry.finished_at ? ` at ${entry.finished_at}` : ""}`;
    const { job } = found;
    const tail = entry.status === "completed" || job.error?.log_tail?.length ? [] : await found.logLines();
    return channelMessage(job, entry.status, logLinesFor(job, tail));
  }

  /** Resolves after `ms`, or at once when the engine stops. */
  #sleep(ms: number): Promise<void> {
    const clock = this.#ctx.clock;
    return new Promise((done) => {
      const wake = () => {
        this.#sleepers.delete(wake);
        clock.clearTimeout(timer);
        done();
      };
      const timer = clock.setTimeout(wake, ms);
      this.#sleepers.add(wake);
    });
  }

  async #record(book: LedgerBook, id: string, change: (entry: LedgerEntry) => void): Promise<void> {
    if (book.change(id, change)) await book.commit();
  }

  async #sendWithRetries(session: Session, id: string): Promise<SendEnd> {
    const ctx = this.#ctx;
    const { book, lock } = session;
    const entry = book.get(id);
    if (!entry || !book.open) return "halted";
    const target = channelTarget(ctx.options.channels, entry.channel);
    const at = () => new Date(ctx.clock.now()).toISOString();
    if (!target) {
      await this.#record(book, id, (e) => {
        e.notified = { state: "unmapped", at: at(), channel: e.channel };
      });
      return "unmapped";
    }
    const text = await this.#messageFor(session.reads, entry);
    const delays = ctx.options.sendRetryDelaysMs;
    const attempts = delays.length + 1;
    const where = `${entry.channel} (${target.channel} ${target.to})`;
    let lastError = "";
    for (let attempt = 1; attempt <= attempts; attempt++) {
      if (this.#halted || !book.open) return "halted";
      if (!(await lock.holds())) return "lost-lock";
      try {
        const result = await ctx.ports.sendText(target, text);
        await this.#record(book, id, (e) => {
          e.notified = {
            state: "sent",
            at: at(),
            target: `${target.channel}:${target.to}`,
            attempts: attempt,
            ...(result?.messageId !== undefined ? { message_id: String(result.messageId) } : {}),
          };
        });
        ctx.log("info", `${id}: posted to ${where}`);
        return "sent";
      } catch (error) {
        lastError = (error as Error).message ?? String(error);
        await this.#record(book, id, (e) => {
          if (e.notified.state === "sending") e.notified = { ...e.notified, attempts: attempt };
        });
        const delay = delays[attempt - 1];
        if (delay === undefined) break;
        ctx.log(
          "warn",
          `${id}: posting to ${where} failed (attempt ${attempt} of ${attempts}): ${lastError}; retrying in ${Math.round(delay / 1000)} s`,
        );
        await this.#sleep(delay);
      }
    }
    if (this.#halted || !book.open) return "halted";
    // Said before it is recorded: whoever sees the ledger say failed finds the reason in the log.
    ctx.log(
      "error",
      `${id}: could NOT post to ${where} after ${attempts} attempts: ${lastError}. The team was not told; the post-processing agent is. Check the channel's configuration in openclaw.json (plugins.entries.atomizer-job-queue.config.notifier.channels) and the channel plugin.`,
    );
    await this.#record(book, id, (e) => {
      e.notified = { state: "failed", at: at(), attempts, last_error: lastError };
    });
    return "failed";
  }
}
