import type { Job } from "../protocol/index.ts";
import { verifyRecordSignature } from "../protocol/index.ts";
import type { RunnerContext } from "./context.ts";
import { recordReaders } from "./runner-keys.ts";

// inbox/<id>/job.json as evidence of what became of a job (docs/runner.md, "Signed jobs"). With its own
// record key, the runner believes only a record it signed itself for that job: anyone who can write to
// the synced queue could otherwise end a job, or have it counted as taken, by writing a job.json there.
// Without a record key nothing can be authenticated and every record counts, as before signatures.

export type InboxEvidence =
  | { job: Job }
  | { missing: true }
  | { unreadable: string }
  /** A record that does not count (unsigned, forged, another job's): why, and its seq if it had one. */
  | { ignored: string; seq?: number };

/** True when the runner can tell its own inbox records from forged ones. */
export function authenticatesRecords(ctx: Pick<RunnerContext, "keys">): boolean {
  return ctx.keys.recordKey !== undefined;
}

/**
 * The inbox record of `jobId` as far as it counts. An ignored one is logged once per problem, as
 * "inbox record of <id> ignored: <problem>"; the ledger and intake then decide as if it were absent.
 */
export async function readInboxEvidence(
  ctx: Pick<RunnerContext, "inbox" | "keys" | "log" | "noted">,
  jobId: string,
): Promise<InboxEvidence> {
  const record = await ctx.inbox.readRecord(jobId);
  if ("missing" in record || !authenticatesRecords(ctx)) return record;
  let problem: string;
  let seq: number | undefined;
  if ("unreadable" in record) problem = `it cannot be read (${record.unreadable})`;
  else if (record.job.job_id !== jobId) problem = `it is the record of ${JSON.stringify(record.job.job_id)}`;
  else {
    const check = verifyRecordSignature(record.job, recordReaders(ctx.keys));
    if (check.ok) return record;
    problem = check.problem;
    seq = record.job.seq;
  }
  const key = `inbox-ignored:${jobId}:${problem}`;
  if (!ctx.noted.has(key)) {
    ctx.noted.add(key);
    ctx.log("ignored", jobId, `inbox record of ${jobId} ignored: ${problem}`);
  }
  return seq === undefined ? { ignored: problem } : { ignored: problem, seq };
}

/** The record's job when it counts, else undefined. */
export function countedJob(evidence: InboxEvidence): Job | undefined {
  return "job" in evidence ? evidence.job : undefined;
}

/**
 * The seq of a record that was read, counted or not: the runner's next write counts up from it, so
 * watchers waiting for a seq above the last one they saw (wait_for_job) still see the change.
 */
export function seenSeq(evidence: InboxEvidence): number | undefined {
  if ("job" in evidence) return evidence.job.seq;
  return "ignored" in evidence ? evidence.seq : undefined;
}
