import type { JobFacts, NotifierReads } from "./catalog-reads.ts";
import type { LedgerBook } from "./ledger-book.ts";
import type { Acknowledgement } from "./notification-policy.ts";
import {
  acknowledgedHandoff,
  changedReads,
  newLedgerEntry,
  prunable,
  removedPrunable,
} from "./notification-policy.ts";
import { channelTarget } from "./notifier-config.ts";
import type { NotifierContext, Session } from "./notifier-context.ts";
import type { LedgerEntry } from "./notifier-ledger.ts";

/** Catalog rows read per page of a rescan (the catalog's largest page). */
export const PAGE_ROWS = 200;

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

  /**
   * The safety net, for changes the catalog's events missed: reads the jobs whose catalog rows changed
   * since the last rescan (changedReads picks which), then every open entry and live job. Yields what
   * each page recorded, the catalog cursor moved on with it, so the engine acts and commits as it goes:
   * a full pass (a first start, a rebuilt catalog) never holds more than a page.
   */
  async *rescan(session: Session): AsyncGenerator<RecordResult[]> {
    const { book, reads } = session;
    const now = this.#ctx.clock.now();
    const always = new Set([...book.openIds(), ...book.liveIds()]);
    const saved = book.cursor();
    let page = await reads.changes(saved?.counter, PAGE_ROWS);
    if (saved && page.instance !== saved.instance) {
      this.#ctx.log("info", "the job catalog was rebuilt since the last rescan: reading every job once");
      page = await reads.changes(undefined, PAGE_ROWS);
    }
    const { instance } = page;
    const from = instance === saved?.instance ? saved.counter : 0;
    let counter = from;
    for (;;) {
      if (!book.open) return;
      const ids = page.rows.map((row) => row.job_id);
      const results = await this.#readAll(
        book,
        reads,
        changedReads(ids, book.summaries(ids), always, now),
        now,
      );
      // The page's total counts every row changed after the counter asked with: more pages follow while it is not all.
      const more = page.rows.length < page.total;
      counter = Math.max(counter, page.rows.at(-1)?.change ?? 0, more ? 0 : page.counter);
      book.setCursor({ instance, counter });
      yield results;
      if (!more) break;
      page = await reads.changes(counter, PAGE_ROWS);
      // Rebuilt mid-pass: the cursor names the old instance, so the next rescan starts over.
      if (page.instance !== instance) return;
    }
    if (!book.open) return;
    await this.#pruneRemoved(session, page.removedSince(from), now);
    yield* this.#unseenAtRunner(session, always, now);
    yield await this.#readAll(book, reads, [...always], now);
  }

  /** Drops old acknowledged entries of jobs removed from the catalog, once a read confirms nothing is left. */
  async #pruneRemoved(
    { book, reads }: Session,
    removed: { ids: string[]; complete: boolean },
    now: number,
  ): Promise<void> {
    if (!removed.complete) return;
    for (const id of removedPrunable(removed.ids, book.summaries(removed.ids), now)) {
      // Removed once, but perhaps back since: only a job the catalog knows nothing of is forgotten.
      if ((await reads.facts(id)).state === "unknown") book.remove(id);
    }
  }

  /** Jobs at the runner the catalog never reported (a missed event): read when inbox/'s listing changed. */
  async *#unseenAtRunner(
    session: Session,
    always: ReadonlySet<string>,
    now: number,
  ): AsyncGenerator<RecordResult[]> {
    const { book, reads } = session;
    const listing = await reads.runnerFolders(book.inboxStamp());
    for (let at = 0; listing.ids && at < listing.ids.length; at += PAGE_ROWS) {
      if (!book.open) return;
      const ids = listing.ids.slice(at, at + PAGE_ROWS);
      const known = book.summaries(ids);
      const unseen = ids.filter((id) => !known.has(id) && !always.has(id) && !book.isLive(id));
      yield await this.#readAll(book, reads, unseen, now);
    }
    book.setInboxStamp(listing.stamp);
  }

  /** Reads each job and records what changed; prunes entries that are old enough and off the runner. */
  async #readAll(
    book: LedgerBook,
    reads: NotifierReads,
    ids: readonly string[],
    now: number,
  ): Promise<RecordResult[]> {
    const results: RecordResult[] = [];
    for (const id of ids) {
      const facts = await reads.facts(id);
      results.push(this.#apply(book, id, facts));
      const entry = book.get(id);
      if (entry && prunable(entry, facts.atRunner, now)) book.remove(id);
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
    if (known) {
      book.setLive(id, false);
      return { id, acknowledged: this.#acknowledge(book, known, facts.acknowledged) };
    }
    // A row that cannot be read (logged by the store): the job is left alone, never recorded again.
    if (book.has(id)) return { id };
    const { outcome } = facts;
    if (outcome.kind === "unreadable") {
      if (!this.#unreadableLogged.has(id))
        log("warn", `${id}: ${outcome.reason}; waiting for a valid job.json`);
      this.#unreadableLogged.add(id);
    }
    if (outcome.kind !== "ended" || !book.open) {
      // Still open at the runner: read on every rescan, as its results may verify without a row change.
      book.setLive(id, facts.atRunner && facts.state !== "archived");
      return { id };
    }
    this.#unreadableLogged.delete(id);
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
    book.setLive(id, false);
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
