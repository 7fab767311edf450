import type { Job, TerminalStatus } from "../protocol/index.ts";
import { asTerminalStatus, isTerminal } from "../protocol/index.ts";
import type { RunnerContext } from "./context.ts";
import { firstView } from "./inbox-writer.ts";

/** What ending a job needs: its two exactly-once records (inbox job.json and the ledger) and the log. */
export type FinishContext = Pick<RunnerContext, "inbox" | "ledger" | "log" | "now" | "runnerInfo">;

/** How a job ends. */
export interface JobEnd {
  status: TerminalStatus;
  /** What the final job.json says besides its status: error, exit_code, progress, results. */
  fields?: Partial<Job>;
  /** The log line's detail; no line without it (the caller has said why already). */
  detail?: string;
}

/**
 * Ends a job this runner accepted, in the order a crash relies on: its inbox job.json first, then the
 * ledger. A crash in between leaves a final job.json with an open ledger entry, which recovery closes
 * with the published status; the ledger never says finished for an end nobody could read.
 *
 * An end decided already (a retry after a failed write) is not decided again: the published view is
 * written out once more, and its status is the one the ledger records. Returns false when that view
 * still cannot be written (a full disk): nothing is ledgered, and the caller tries again later.
 */
export async function finishJob(ctx: FinishContext, jobId: string, end: JobEnd): Promise<boolean> {
  let final = ctx.inbox.current(jobId);
  if (final && isTerminal(final.status)) {
    if (ctx.inbox.unpublished(jobId)) await ctx.inbox.flush();
    if (ctx.inbox.unpublished(jobId)) return false;
  } else {
    // The protocol has no queued -> completed: a run adopted before its record said running passes through it.
    if (final?.status === "queued" && end.status === "completed")
      await ctx.inbox.transition(jobId, "running", { runner: ctx.runnerInfo });
    final = await ctx.inbox.transition(jobId, end.status, end.fields ?? {});
  }
  const status = asTerminalStatus(final.status) ?? end.status;
  if (ctx.ledger.get(jobId)?.status === undefined)
    await ctx.ledger.append({ event: "finished", job_id: jobId, at: ctx.now().toISOString(), status });
  if (end.detail !== undefined) ctx.log(status, jobId, end.detail);
  return true;
}

/** The last resort when a job's end could not be published or its records disagree. */
export function internalFailure(message: string): JobEnd {
  return { status: "failed", fields: { error: { kind: "internal", message } } };
}

/**
 * Ends a job that was never accepted (rejected, incomplete, cancelled before it was taken). The order is
 * the other way round: the ledger first, carrying the final job.json, so the job is known before
 * anything says so and never runs; recovery publishes that job.json if a crash came in between.
 */
export async function refuseJob(ctx: FinishContext, submitted: Job, end: JobEnd): Promise<Job> {
  const final = firstView(
    submitted,
    end.status,
    { ...end.fields, runner: ctx.runnerInfo, exit_code: null },
    ctx.now(),
  );
  await ctx.ledger.append({
    event: "refused",
    job_id: submitted.job_id,
    at: ctx.now().toISOString(),
    status: end.status,
    job: final,
  });
  await ctx.inbox.publishNew(final);
  if (end.detail !== undefined) ctx.log(end.status, submitted.job_id, end.detail);
  return final;
}
