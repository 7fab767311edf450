import type { Job } from "../protocol/index.ts";
import { readJobAt } from "../protocol/index.ts";
import type { RunnerContext } from "./context.ts";
import { firstView } from "./inbox-writer.ts";

// What a job runs comes only from the runner's own record of it: the ledger's copy of the job it
// accepted, or the job.json in its work folder (the exact bytes intake checked, written there at
// acceptance). inbox/ lies in the synced queue, where anyone who can write to the share can rewrite
// it, so a job.json read back from inbox/ may tell the runner how far the job got, never what it runs.

/**
 * The fields of an inbox view the runner takes back after a restart: its own progress and outcome
 * fields. Everything else (script, args, type, timeout, files, the submitter's signature, who is
 * notified) stays as the runner's own record has it.
 */
const PROGRESS_FIELDS = [
  "status",
  "queued_at",
  "started_at",
  "finished_at",
  "heartbeat_at",
  "waiting_for",
  "runner",
  "exit_code",
  "error",
  "progress",
  "results",
] as const;

/**
 * seq is not covered by the runner's signature, so any record's seq may be an intruder's: one beyond
 * what a runner could ever count to is not taken, so the next write cannot overflow a safe integer.
 */
const MAX_PLAUSIBLE_SEQ = 2 ** 40;

function plausibleSeq(seq: number | undefined): number {
  return seq !== undefined && seq <= MAX_PLAUSIBLE_SEQ ? seq : 0;
}

/** The fields that decide what runs; copied from the work copy at start (start-check.ts). */
export const RUN_FIELDS = ["script", "args", "type", "timeout_s", "files", "signature"] as const;

/**
 * `own` with the progress of `view` (its seq, its published status, progress and timestamps) laid
 * over it. A view of another job, or one that went back to `submitted`, adds nothing but its seq, so
 * the next write still counts up from what watchers last saw; `seenSeq` is the seq of a record that
 * did not count (see inbox-evidence.ts), for the same reason.
 */
export function withProgressOf(own: Job, view: Job | undefined, seenSeq?: number): Job {
  const merged: Record<string, unknown> = { ...own };
  const seen = Math.max(own.seq ?? 0, plausibleSeq(view?.seq), plausibleSeq(seenSeq));
  if (seen > 0) merged.seq = seen;
  if (!view || view.job_id !== own.job_id || view.status === "submitted") return merged as Job;
  for (const field of PROGRESS_FIELDS) if (view[field] !== undefined) merged[field] = view[field];
  return merged as Job;
}

/** True when both name the same script, args, type, timeout, manifest and signature. */
export function sameRunFields(a: Job, b: Job): boolean {
  return RUN_FIELDS.every((field) => JSON.stringify(a[field]) === JSON.stringify(b[field]));
}

export type WorkCopyRead = { ok: true; job: Job } | { ok: false; problem: string };

/** The job.json intake wrote into the job's work folder, as it was checked (status submitted). */
export async function readWorkCopy(ctx: Pick<RunnerContext, "paths">, jobId: string): Promise<WorkCopyRead> {
  const dir = ctx.paths.workJob(jobId);
  const read = await readJobAt(dir);
  if (read.kind === "absent") return { ok: false, problem: `its work copy ${dir} has no job.json` };
  if (read.kind === "invalid")
    return { ok: false, problem: `its work copy's job.json cannot be read (${read.problem})` };
  if (read.job.job_id !== jobId)
    return { ok: false, problem: `its work copy's job.json names job ${JSON.stringify(read.job.job_id)}` };
  return { ok: true, job: read.job };
}

/**
 * The runner's own record of a job it accepted, for when the ledger has none (a rebuilt ledger, or a
 * ledger that lost it): the work copy as first published, queued.
 */
export async function ownRecordFromWork(
  ctx: Pick<RunnerContext, "paths" | "runnerInfo" | "now">,
  jobId: string,
  queuedAt?: string,
): Promise<WorkCopyRead> {
  const read = await readWorkCopy(ctx, jobId);
  if (!read.ok) return read;
  const queued = firstView(read.job, "queued", { runner: ctx.runnerInfo }, ctx.now());
  return { ok: true, job: queuedAt ? { ...queued, queued_at: queuedAt } : queued };
}
