import type { ActiveRun, RunnerContext } from "./context.ts";

/** A run request that never launched is taken back at most this often before the job fails. */
export const MAX_REQUEUES = 3;

/**
 * Whether a started job whose script provably never launched may be queued again: not once a stop
 * was decided (it ends as decided), nor after MAX_REQUEUES (something keeps the script from starting).
 */
export function mayRequeue(ctx: RunnerContext, jobId: string, stopDecided: boolean): boolean {
  const entry = ctx.ledger.get(jobId);
  return entry !== undefined && !stopDecided && (entry.requeues ?? 0) < MAX_REQUEUES;
}

/**
 * Queues a started job again. Call only once its script provably never starts (abandonRun won).
 * The ledger's `requeued` comes first: from then on a restart queues it again too. `run` is the run
 * this runner followed, if any: its slot is freed. Throws when the record cannot be written; the run
 * (if any) then stays followed and the next check decides again.
 */
export async function requeue(
  ctx: RunnerContext,
  jobId: string,
  reason: string,
  log: string,
  run?: ActiveRun,
): Promise<void> {
  if (run?.finishing) return;
  const entry = ctx.ledger.get(jobId);
  await ctx.ledger.append({ event: "requeued", job_id: jobId, at: ctx.now().toISOString(), reason });
  if (run) {
    run.finishing = true;
    run.unfollow?.();
    ctx.active.delete(jobId);
    ctx.scheduler.finish(jobId);
    run.markFinished();
  }
  // A stopping runner starts nothing: the next start's recovery queues the job from the ledger.
  if (ctx.isStopping() || !entry) return;
  ctx.scheduler.enqueue(jobId, ctx.inbox.current(jobId)?.queued_at ?? entry.accepted_at);
  ctx.log("queued again", jobId, log);
  if (run) ctx.pump();
}
