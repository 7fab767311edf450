import { liveness } from "../protocol/process-identity.ts";
import { newRun, runLimitS } from "./active-run.ts";
import type { ActiveRun, RunnerContext } from "./context.ts";
import type { LedgerEntry } from "./ledger.ts";
import { errorMessage } from "./log.ts";
import { MAX_REQUEUES, mayRequeue, requeue } from "./requeue.ts";
import { finishRun } from "./run-end.ts";
import { checkRun, follow, killRun, learn } from "./supervised-run.ts";
import { abandonRun, inspectRun } from "./supervisor/run-view.ts";

/**
 * Call inside the job's serial lane (it never waits on the lane itself).
 *
 * Takes over a run that was started before this runner did: a live supervisor keeps its job running
 * (progress, cancel and the time limit resume); one that finished meanwhile has its outcome published
 * as the job's real end; one gone without an outcome ends the job as runner_restart; a request that
 * never launched its script is queued again, since the script provably never ran.
 */
export async function adoptRun(ctx: RunnerContext, entry: LedgerEntry): Promise<void> {
  const jobId = entry.job_id;
  const job = ctx.inbox.current(jobId);
  if (!job || entry.started_at === undefined) throw new Error("adoptRun needs a started, published job");
  const run = newRun(ctx, jobId, Date.parse(entry.started_at), runLimitS(job, ctx.config.maxRuntimeS));
  if (entry.stop) run.stopReason = entry.stop;
  let view = await inspectRun(run.dir);
  if (!view.outcome && !view.launched) {
    if (await abandonRun(run.dir)) {
      if (!mayRequeue(ctx, jobId, entry.stop !== undefined)) {
        ctx.active.set(jobId, run);
        ctx.scheduler.occupy(jobId);
        run.stopReason ??= {
          kind: "runner_restart",
          message: `the runner restarted ${MAX_REQUEUES + 1} times before this job's script could start; check the runner log, then resubmit`,
        };
        await checkRunOrEnd(ctx, run);
        return;
      }
      await requeue(
        ctx,
        jobId,
        "the runner stopped before the script was launched",
        "started before the restart, but its script was never launched",
      );
      return;
    }
    view = await inspectRun(run.dir);
  }
  ctx.active.set(jobId, run);
  ctx.scheduler.occupy(jobId);
  learn(run, view);
  if (!view.outcome && run.supervisor && (await liveness(run.supervisor, ctx.platform)) !== "gone") {
    // Its inbox record may still say queued: the runner died between the launch and that write.
    if (job.status === "queued") await ctx.inbox.transition(jobId, "running", { runner: ctx.runnerInfo });
    follow(ctx, run);
    ctx.log(
      "adopted",
      jobId,
      `its supervisor (pid ${run.supervisor.pid}) still runs the script (pid ${run.script?.pid ?? "not recorded yet"})`,
    );
    // A cancel or timeout decided before the restart is carried out now.
    if (run.stopReason)
      void killRun(ctx, run).catch((error: unknown) => ctx.log("kill failed", jobId, errorMessage(error)));
    return;
  }
  await checkRunOrEnd(ctx, run);
}

/** Publishes the outcome a finished supervisor left, or ends a run that has none. */
async function checkRunOrEnd(ctx: RunnerContext, run: ActiveRun): Promise<void> {
  await checkRun(ctx, run);
  if (run.finishing) return;
  // No supervisor was ever recorded (it died at once): nothing can finish this run any more.
  await finishRun(ctx, run, {
    code: null,
    signal: null,
    spawnError: "the job's supervisor left no record of itself; resubmit the job",
  });
}
