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

/** An entry whose job left inbox/ and whose hand-off was acknowledged long ago is forgotten. */
export function prunable(entry: LedgerEntry, inInbox: boolean, now: number): boolean {
  return (
    !inInbox && entry.handoff.state === "acknowledged" && now - Date.parse(entry.handoff.at) > PRUNE_AFTER_MS
  );
}

/** On activation: every pending hand-off goes out again (queued events do not survive a gateway restart), and a message caught mid-send is sent again. */
export function workAfterRestart(entries: readonly LedgerEntry[]): { handoffs: string[]; resends: string[] } {
  return {
    handoffs: entries.filter((e) => e.handoff.state === "pending").map((e) => e.job_id),
    resends: entries.filter((e) => e.notified.state === "sending").map((e) => e.job_id),
  };
}

/**
 * Which jobs a safety-net rescan reads (for changes the catalog's events missed) and which ledger
 * entries it drops unread. Read: every job not in the ledger yet (but an archived one only until it
 * was read once with nothing to record: `settled`), every pending hand-off (acknowledged yet?), and
 * acknowledged entries old enough to prune (has the job left the runner?). Dropped unread: old
 * acknowledged entries of jobs the catalog no longer knows at all.
 */
export function rescanPlan(
  rows: readonly { job_id: string; state: string }[],
  entries: readonly LedgerEntry[],
  now: number,
  settled: ReadonlySet<string>,
): { read: string[]; prune: string[] } {
  const byId = new Map(entries.map((entry) => [entry.job_id, entry]));
  const read: string[] = [];
  const prune: string[] = [];
  for (const row of rows) {
    const entry = byId.get(row.job_id);
    const wanted = entry
      ? entry.handoff.state === "pending" || prunable(entry, false, now)
      : !(row.state === "archived" && settled.has(row.job_id));
    if (wanted) read.push(row.job_id);
  }
  const listed = new Set(rows.map((row) => row.job_id));
  for (const entry of entries) {
    if (listed.has(entry.job_id)) continue;
    if (entry.handoff.state === "pending") read.push(entry.job_id);
    else if (prunable(entry, false, now)) prune.push(entry.job_id);
  }
  return { read, prune };
}
