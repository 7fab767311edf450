import type { JobOutcome } from "./job-outcome.ts";
import type { LedgerBook } from "./ledger-book.ts";
import { acknowledgedHandoff, newLedgerEntry } from "./notification-policy.ts";
import { channelTarget } from "./notifier-config.ts";
import type { NotifierContext } from "./notifier-context.ts";
import type { LedgerEntry } from "./notifier-ledger.ts";

/** What reading one job found: its outcome (undefined when the ledger already had it) and the entry it got, when it was recorded just now. */
export interface RecordResult {
  outcome?: JobOutcome;
  recorded?: LedgerEntry;
  /** Its hand-off was acknowledged just now. */
  acknowledged?: boolean;
}

/**
 * Reads jobs and records in the ledger what the notification policy makes of them: an ended job's
 * entry once its outcome is decided, an acknowledgement once its results were taken. Says what it
 * recorded; sending and handing over is the engine's.
 */
export class JobRecorder {
  readonly #ctx: NotifierContext;
  /** Jobs whose unreadable job.json was logged already: said once, not on every rescan. */
  readonly #unreadableLogged = new Set<string>();

  constructor(ctx: NotifierContext) {
    this.#ctx = ctx;
  }

  /** Marks a pending hand-off acknowledged once the job's results were fetched or archived; true when it did. */
  async acknowledge(book: LedgerBook, entry: LedgerEntry, archived?: ReadonlySet<string>): Promise<boolean> {
    if (entry.handoff.state !== "pending") return false;
    const by = await this.#ctx.reads.acknowledgement(entry.job_id, archived);
    const handoff = acknowledgedHandoff(entry.handoff, by, this.#ctx.clock.now());
    if (!handoff || !book.change(entry.job_id, (e) => Object.assign(e, { handoff }))) return false;
    this.#ctx.log(
      "info",
      `${entry.job_id}: hand-off acknowledged (${by === "receipt" ? "results fetched" : "job archived"})`,
    );
    return true;
  }

  /** Records a job once its outcome is decided; a job the ledger has already is only checked for its acknowledgement. */
  async record(book: LedgerBook, id: string, archived?: ReadonlySet<string>): Promise<RecordResult> {
    const { reads, options, clock, log } = this.#ctx;
    const known = book.get(id);
    if (known) return { acknowledged: await this.acknowledge(book, known, archived) };
    const outcome = await reads.outcome(id);
    if (outcome.kind === "unreadable") {
      if (!this.#unreadableLogged.has(id))
        log("warn", `${id}: ${outcome.reason}; waiting for a valid job.json`);
      this.#unreadableLogged.add(id);
      return { outcome };
    }
    if (outcome.kind !== "ended" || !book.open) return { outcome };
    const { job, status } = outcome;
    const entry = newLedgerEntry({
      jobId: id,
      status,
      job,
      ack: await reads.acknowledgement(id, archived),
      firstStart: book.firstStart,
      channelMapped: channelTarget(options.channels, job.channel) !== undefined,
      now: clock.now(),
      staleMessageAfterMs: options.staleMessageAfterMs,
    });
    book.add(entry);
    const { notified } = entry;
    if (notified.state === "unmapped") {
      log(
        "error",
        `${id} ${status}, but its channel ${JSON.stringify(job.channel)} has no mapping, so the team was NOT told. Add plugins.entries.atomizer-job-queue.config.notifier.channels[${JSON.stringify(job.channel.startsWith("#") ? job.channel : `#${job.channel}`)}] = { channel: "slack", to: "channel:C0..." } (or another channel kind) and restart the gateway; the post-processing agent is told too.`,
      );
    }
    log(
      "info",
      `${id} ${status}: channel message ${notified.state === "skipped" ? `skipped (${notified.reason})` : notified.state}, hand-off ${entry.handoff.state}`,
    );
    return { outcome, recorded: entry };
  }
}
