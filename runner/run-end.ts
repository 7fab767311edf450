import { MAX_MANIFEST_ENTRIES } from "../protocol/index.ts";
import type { ActiveRun, RunnerContext } from "./context.ts";
import { finishJob, internalFailure } from "./finish-job.ts";
import { machineCondition } from "./fs-conditions.ts";
import { errorMessage } from "./log.ts";
import { readProgress } from "./progress-reader.ts";
import { publishResults, workLogTail } from "./results-publisher.ts";
import type { ProcessExit } from "./run-outcome.ts";
import { runOutcome } from "./run-outcome.ts";

/**
 * Publishes a run's end in the protocol's order: 3_results/ and stdout.log first, then job.json with the
 * results manifest and the final status, then the ledger. Call inside the job's serial lane.
 */
export async function finishRun(ctx: RunnerContext, run: ActiveRun, exit: ProcessExit): Promise<void> {
  if (run.finishing) return;
  run.finishing = true;
  run.unfollow?.();
  const jobId = run.jobId;
  let retryLater = false;
  try {
    const workDir = ctx.paths.workJob(jobId);
    const progress = await readProgress(ctx.paths.workResults(jobId), run.progress, ctx.now());
    const published = await publishResults(workDir, ctx.paths.inboxJob(jobId));
    if (published.files.length > MAX_MANIFEST_ENTRIES) {
      // Readers refuse a longer manifest: list what fits and say so, rather than lose the job's end.
      published.problems.push(
        `${published.files.length} result files; only the first ${MAX_MANIFEST_ENTRIES} are listed (MAX_MANIFEST_ENTRIES): write fewer, larger files (zip them)`,
      );
      published.files = published.files.slice(0, MAX_MANIFEST_ENTRIES);
    }
    for (const problem of published.problems) ctx.log("result not published", jobId, problem);
    const tail = await workLogTail(ctx.paths.workLog(jobId), ctx.config.logTailLines);
    const end = runOutcome(exit, run.stopReason, tail);
    const finished = await finishJob(ctx, jobId, {
      status: end.status,
      fields: {
        exit_code: exit.code,
        ...(end.error ? { error: end.error } : {}),
        ...(progress ? { progress } : {}),
        results: {
          files: published.files,
          published_at: ctx.now().toISOString(),
          ...(published.problems.length > 0 ? { problems: published.problems } : {}),
        },
      },
      detail: end.error
        ? `${end.error.kind}: ${end.error.message}`
        : `${published.files.length} result files`,
    });
    if (!finished) {
      // The end is decided, but its job.json still waits for the disk: the ledger waits with it.
      retryLater = true;
      run.finishing = false;
      return;
    }
  } catch (error) {
    const condition = machineCondition(error);
    if (condition) {
      // The outcome stays in the run folder: the next heartbeat (or a restart) publishes it.
      ctx.log(
        "waiting",
        jobId,
        `${condition} while publishing the end of the run; retried at the next heartbeat`,
      );
      retryLater = true;
      run.finishing = false;
      return;
    }
    ctx.log("could not publish the end of the run", jobId, errorMessage(error));
    await finishJob(
      ctx,
      jobId,
      internalFailure(`the runner could not publish the end of the run: ${errorMessage(error)}`),
    ).catch((again: unknown) => ctx.log("could not record the failure either", jobId, errorMessage(again)));
  } finally {
    if (!retryLater) {
      ctx.active.delete(jobId);
      ctx.scheduler.finish(jobId);
      run.markFinished();
      ctx.pump();
    }
  }
}
