import type { Job, TerminalStatus } from "../../protocol/index.ts";
import type { Handoff, LedgerEntry, Notified } from "./notifier-ledger.ts";

/** How the submitting side took a job's results: a fetch receipt, an archive/ folder, or not yet. */
export type Acknowledgement = "receipt" | "archive" | undefined;

/** Acknowledged entries whose inbox copy is gone are dropped after this long. */
export const PRUNE_AFTER_MS = 30 * 24 * 3600_000;

/** Everything the first decision about an ended job depends on. */
export interface EndedJobFacts {
  jobId: string;
  status: TerminalStatus;
  job: Pick<Job, "channel" | "finished_at" | "notify">;
  ack: Acknowledgement;
  /** The ledger did not exist: this scan sorts history from new work. */
  firstStart: boolean;
  /** Whether notifier.channels maps the job's channel. */
  channelMapped: boolean;
  now: number;
  staleMessageAfterMs: number;
}

/**
 * What happens to an ended job's one channel message. History (archived, or fetched before the
 * notifier first ran) and a notify flag that says no are skipped; on a first start a job that ended
 * long ago is stale; an unmapped channel is recorded as such; everything else is sent.
 */
export function notificationFor(facts: EndedJobFacts): Notified {
  const { job, ack, firstStart, now } = facts;
  const at = new Date(now).toISOString();
  if (ack === "archive" || (firstStart && ack === "receipt"))
    return { state: "skipped", at, reason: "preexisting" };
  if (!(facts.status === "completed" ? job.notify.on_complete : job.notify.on_fail)) {
    return { state: "skipped", at, reason: "notify_off" };
  }
  if (
    firstStart &&
    job.finished_at !== undefined &&
    now - Date.parse(job.finished_at) > facts.staleMessageAfterMs
  ) {
    return { state: "skipped", at, reason: "stale" };
  }
  if (!facts.channelMapped) return { state: "unmapped", at, channel: job.channel };
  return { state: "sending", since: at, attempts: 0 };
}

/** The ledger entry an ended job gets when it is first recorded: its message decided, its hand-off pending unless already acknowledged. */
export function newLedgerEntry(facts: EndedJobFacts): LedgerEntry {
  const at = new Date(facts.now).toISOString();
  return {
    job_id: facts.jobId,
    status: facts.status,
    channel: facts.job.channel,
    ...(facts.job.finished_at ? { finished_at: facts.job.finished_at } : {}),
    recorded_at: at,
    notified: notificationFor(facts),
    handoff: facts.ack
      ? { state: "acknowledged", at, by: facts.ack, sent_at: [] }
      : { state: "pending", since: at, sent_at: [] },
  };
}

/** The hand-off once the results were taken, or undefined when nothing changes (not pending, or not taken). */
export function acknowledgedHandoff(
  handoff: Handoff,
  ack: Acknowledgement,
  now: number,
): Handoff | undefined {
  if (handoff.state !== "pending" || !ack) return undefined;
  return { state: "acknowledged", at: new Date(now).toISOString(), by: ack, sent_at: handoff.sent_at };
}

/** A pending hand-off never sent, or last sent resendAfterMs ago or more, is due (again). */
export function resendDue(entry: LedgerEntry, now: number, resendAfterMs: number): boolean {
  if (entry.handoff.state !== "pending") return false;
  const last = entry.handoff.sent_at.at(-1);
  return last === undefined || now - Date.parse(last) >= resendAfterMs;
}

/** A hand-off acknowledged at `at` (ISO) longer ago than PRUNE_AFTER_MS. */
export function acknowledgedLongAgo(at: string | undefined, now: number): boolean {
  return at !== undefined && now - Date.parse(at) > PRUNE_AFTER_MS;
}

/** An entry whose job left inbox/ and whose hand-off was acknowledged long ago is forgotten. */
export function prunable(entry: LedgerEntry, inInbox: boolean, now: number): boolean {
  return !inInbox && entry.handoff.state === "acknowledged" && acknowledgedLongAgo(entry.handoff.at, now);
}

/** On activation: every pending hand-off goes out again (queued events do not survive a gateway restart), and a message caught mid-send is sent again. */
export function workAfterRestart(entries: readonly LedgerEntry[]): { handoffs: string[]; resends: string[] } {
  return {
    handoffs: entries.filter((e) => e.handoff.state === "pending").map((e) => e.job_id),
    resends: entries.filter((e) => e.notified.state === "sending").map((e) => e.job_id),
  };
}

/** What the ledger says of a job without its entry being read: enough for a rescan to decide. */
export interface EntrySummary {
  /** The message is being sent or the hand-off is pending. */
  open: boolean;
  /** When the hand-off was acknowledged. */
  acknowledgedAt?: string;
}

/**
 * Which jobs whose catalog rows changed a safety-net rescan reads (for what the catalog's events
 * missed). Read: every job not in the ledger yet (it may have ended), and entries acknowledged long
 * enough ago to prune (has the job left the runner?). Left out: jobs every rescan reads anyway
 * (`always`: open entries and live jobs), and the other entries (done: nothing left to learn).
 */
export function changedReads(
  changed: readonly string[],
  known: ReadonlyMap<string, EntrySummary>,
  always: ReadonlySet<string>,
  now: number,
): string[] {
  return changed.filter((id) => {
    if (always.has(id)) return false;
    const entry = known.get(id);
    return !entry || acknowledgedLongAgo(entry.acknowledgedAt, now);
  });
}

/** Which entries of jobs removed from the catalog (no file of them left) are dropped: those acknowledged long ago. */
export function removedPrunable(
  removed: readonly string[],
  known: ReadonlyMap<string, EntrySummary>,
  now: number,
): string[] {
  return removed.filter((id) => acknowledgedLongAgo(known.get(id)?.acknowledgedAt, now));
}
