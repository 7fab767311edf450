import type { JobFacts } from "./catalog-reads.ts";
import type { LedgerBook } from "./ledger-book.ts";
import type { Acknowledgement } from "./notification-policy.ts";
import { acknowledgedHandoff, newLedgerEntry, prunable, rescanPlan } from "./notification-policy.ts";
import { channelTarget } from "./notifier-config.ts";
import type { NotifierContext, Session } from "./notifier-context.ts";
import type { LedgerEntry } from "./notifier-ledger.ts";

/** What reading one job changed in the ledger: the entry it got just now, or its hand-off acknowledged just now. */
export interface RecordResult {
  id: string;
  recorded?: LedgerEntry;
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
  /** Archived jobs read with nothing to record: final, so rescans leave them to the catalog's events. */
  readonly #settled = new Set<string>();

  constructor(ctx: NotifierContext) {
    this.#ctx = ctx;
  }

  /** Reads one job and records what changed. */
  async check(session: Session, id: string): Promise<RecordResult> {
    return this.#apply(session.book, id, await session.reads.facts(id));
  }

  /** Whether each batched hand-off is still pending: those acknowledged meanwhile are recorded so. */
  async acknowledgeAll(session: Session, ids: readonly string[]): Promise<string[]> {
    const acknowledged: string[] = [];
    for (const id of ids) {
      const entry = session.book.get(id);
      if (entry?.handoff.state !== "pending") continue;
      const { acknowledged: by } = await session.reads.facts(id);
      if (this.#acknowledge(session.book, entry, by)) acknowledged.push(id);
    }
    return acknowledged;
  }

  /** The safety net: reads what rescanPlan picks and records what changed; prunes old entries. */
  async rescan(session: Session): Promise<RecordResult[]> {
    const { book, reads } = session;
    const rows = await reads.rows();
    const archived = new Set(rows.filter((row) => row.state === "archived").map((row) => row.job_id));
    const now = this.#ctx.clock.now();
    const plan = rescanPlan(rows, book.entries(), now, this.#settled);
    for (const id of plan.prune) book.remove(id);
    const results: RecordResult[] = [];
    for (const id of plan.read) {
      const facts = await reads.facts(id);
      results.push(this.#apply(book, id, facts));
      const entry = book.get(id);
      if (entry && prunable(entry, facts.atRunner, now)) book.remove(id);
      if (!entry && archived.has(id)) this.#settled.add(id);
    }
    return results;
  }

  #acknowledge(book: LedgerBook, entry: LedgerEntry, by: Acknowledgement): boolean {
    const handoff = acknowledgedHandoff(entry.handoff, by, this.#ctx.clock.now());
    if (!handoff || !book.change(entry.job_id, (e) => Object.assign(e, { handoff }))) return false;
    this.#ctx.log(
      "info",
      `${entry.job_id}: hand-off acknowledged (${by === "receipt" ? "results fetched" : "job archived"})`,
    );
    return true;
  }

  /** Records a job once its outcome is decided; a job the ledger has already is only checked for its acknowledgement. */
  #apply(book: LedgerBook, id: string, facts: JobFacts): RecordResult {
    const { options, clock, log } = this.#ctx;
    const known = book.get(id);
    if (known) return { id, acknowledged: this.#acknowledge(book, known, facts.acknowledged) };
    const { outcome } = facts;
    if (outcome.kind === "unreadable") {
      if (!this.#unreadableLogged.has(id))
        log("warn", `${id}: ${outcome.reason}; waiting for a valid job.json`);
      this.#unreadableLogged.add(id);
    }
    if (outcome.kind !== "ended" || !book.open) return { id };
    const { job, status } = outcome;
    const entry = newLedgerEntry({
      jobId: id,
      status,
      job,
      ack: facts.acknowledged,
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
    return { id, recorded: entry };
  }
}
