import { join } from "node:path";
import { LOG_FILE } from "../../protocol/index.ts";
import { readLastLines } from "./log-tail.ts";
import { channelMessage, logLinesFor } from "./message-text.ts";
import { channelTarget } from "./notifier-config.ts";
import type { NotifierContext } from "./notifier-context.ts";
import type { LedgerEntry } from "./notifier-ledger.ts";
import { holdsLock } from "./notifier-lock.ts";
import { readInboxJob } from "./queue-reads.ts";

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

  constructor(ctx: NotifierContext) {
    this.#ctx = ctx;
  }

  /** Sends a job's message in the background, unless it is already being sent. */
  startSend(id: string): void {
    if (this.#sending.has(id)) return;
    this.#sending.add(id);
    void this.#sendWithRetries(id)
      .catch((error: unknown) =>
        this.#ctx.log("error", `${id}: channel send crashed: ${(error as Error).message}`),
      )
      .finally(() => this.#sending.delete(id));
  }

  /** Ends every wait between retries at once (the engine is stopping). */
  wakeSleepers(): void {
    for (const wake of this.#sleepers) wake();
  }

  async #messageFor(entry: LedgerEntry): Promise<string> {
    const { queue } = this.#ctx;
    const job = await readInboxJob(queue, entry.job_id);
    if (!job) return `${entry.job_id} ${entry.status}${entry.finished_at ? ` at ${entry.finished_at}` : ""}`;
    const tail =
      entry.status === "completed" || job.error?.log_tail?.length
        ? []
        : await readLastLines(join(queue.inbox, entry.job_id, LOG_FILE), 16 * 1024, 8);
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

  async #updateEntry(id: string, change: (entry: LedgerEntry) => void): Promise<void> {
    const ctx = this.#ctx;
    await ctx.serial(async () => {
      const entry = ctx.ledger()?.jobs[id];
      if (!entry) return;
      change(entry);
      ctx.markDirty();
      await ctx.commit();
    });
  }

  async #sendWithRetries(id: string): Promise<void> {
    const ctx = this.#ctx;
    const entry = ctx.ledger()?.jobs[id];
    if (!entry) return;
    const target = channelTarget(ctx.options.channels, entry.channel);
    const at = () => new Date(ctx.clock.now()).toISOString();
    if (!target) {
      await this.#updateEntry(id, (e) => {
        e.notified = { state: "unmapped", at: at(), channel: e.channel };
      });
      return;
    }
    const text = await this.#messageFor(entry);
    const delays = ctx.options.sendRetryDelaysMs;
    const attempts = delays.length + 1;
    const where = `${entry.channel} (${target.channel} ${target.to})`;
    let lastError = "";
    for (let attempt = 1; attempt <= attempts; attempt++) {
      if (!ctx.active() || ctx.stopped()) return;
      if (!(await holdsLock(ctx.dir, ctx.owner))) {
        await ctx.lostLock();
        return;
      }
      try {
        const result = await ctx.ports.sendText(target, text);
        await this.#updateEntry(id, (e) => {
          e.notified = {
            state: "sent",
            at: at(),
            target: `${target.channel}:${target.to}`,
            attempts: attempt,
            ...(result?.messageId !== undefined ? { message_id: String(result.messageId) } : {}),
          };
        });
        ctx.log("info", `${id}: posted to ${where}`);
        return;
      } catch (error) {
        lastError = (error as Error).message ?? String(error);
        await this.#updateEntry(id, (e) => {
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
    if (!ctx.active() || ctx.stopped()) return;
    await this.#updateEntry(id, (e) => {
      e.notified = { state: "failed", at: at(), attempts, last_error: lastError };
    });
    ctx.log(
      "error",
      `${id}: could NOT post to ${where} after ${attempts} attempts: ${lastError}. The team was not told; the post-processing agent is. Check the channel's configuration in openclaw.json (plugins.entries.atomizer-job-queue.config.notifier.channels) and the channel plugin.`,
    );
  }
}
