import { stat } from "node:fs/promises";
import type { Job, JobError } from "../protocol/index.ts";
import { JOB_ENV, MAX_MANIFEST_ENTRIES } from "../protocol/index.ts";
import type { ActiveRun, RunnerContext } from "./context.ts";
import { finishJob, internalFailure } from "./finish-job.ts";
import { machineCondition } from "./fs-conditions.ts";
import type { ProcessExit } from "./job-exit.ts";
import type { TerminalStatus } from "./ledger.ts";
import { errorMessage } from "./log.ts";
import { readProgress } from "./progress-reader.ts";
import { logTail, publishLog, publishResults } from "./results-publisher.ts";
import { runDir } from "./supervisor/run-folder.ts";

/** A run this runner follows, started at `startedMs` with a limit of `limitS`. */
export function newRun(ctx: RunnerContext, jobId: string, startedMs: number, limitS: number): ActiveRun {
  let markFinished = () => {};
  const finished = new Promise<void>((resolve) => {
    markFinished = resolve;
  });
  return {
    jobId,
    dir: runDir(ctx.paths.workDir, jobId),
    limitS,
    deadlineMs: startedMs + limitS * 1000,
    publishedLogSize: -1,
    finishing: false,
    finished,
    markFinished,
  };
}

/** The environment a script runs with: the protocol's JOB_ENV, and unbuffered Python so the log is live and in order. */
export function jobEnvironment(ctx: RunnerContext, jobId: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    [JOB_ENV.jobId]: jobId,
    [JOB_ENV.jobDir]: ctx.paths.workJob(jobId),
    [JOB_ENV.resultsDir]: ctx.paths.workResults(jobId),
    PYTHONUNBUFFERED: "1",
    PYTHONIOENCODING: "utf-8",
  };
}

/** Wall-clock limit of a run: the job's timeout_s, never above the runner-wide maximum. */
export function runLimitS(job: Job, maxRuntimeS: number): number {
  return job.timeout_s === undefined ? maxRuntimeS : Math.min(job.timeout_s, maxRuntimeS);
}

function outcome(
  exit: ProcessExit,
  run: ActiveRun,
  tail: string[],
): { status: TerminalStatus; error?: JobError } {
  // A script that finished cleanly before the runner decided to stop it completed: the stop came late.
  const endedFirst =
    exit.code === 0 && exit.signal === null && exit.endedAt !== undefined && run.stopReason?.at !== undefined
      ? Date.parse(exit.endedAt) <= Date.parse(run.stopReason.at)
      : false;
  const stop = endedFirst ? undefined : run.stopReason;
  if (stop?.kind === "cancelled")
    return { status: "cancelled", error: { kind: "cancelled", message: stop.message, log_tail: tail } };
  if (stop) return { status: "failed", error: { kind: stop.kind, message: stop.message, log_tail: tail } };
  if (exit.spawnError !== undefined) {
    return {
      status: "failed",
      error: {
        kind: "spawn_error",
        message: `could not start the script: ${exit.spawnError}; check --python and the script type`,
        log_tail: tail,
      },
    };
  }
  if (exit.code === 0) return { status: "completed" };
  const how =
    exit.code === null ? `was killed by signal ${exit.signal ?? "unknown"}` : `exited with code ${exit.code}`;
  return {
    status: "failed",
    error: { kind: "exit_code", message: `the script ${how}; see log_tail and stdout.log`, log_tail: tail },
  };
}

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
    const tail = await logTail(ctx.paths.workLog(jobId), ctx.config.logTailLines);
    const end = outcome(exit, run, tail);
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

/** One heartbeat of a running job: progress, heartbeat_at, and stdout.log when it grew. */
export async function beatRun(ctx: RunnerContext, run: ActiveRun): Promise<void> {
  if (run.finishing) return;
  const jobId = run.jobId;
  run.progress = await readProgress(ctx.paths.workResults(jobId), run.progress, ctx.now());
  const size = await stat(ctx.paths.workLog(jobId)).then(
    (s) => s.size,
    () => -1,
  );
  if (size >= 0 && size !== run.publishedLogSize) {
    await publishLog(ctx.paths.workJob(jobId), ctx.paths.inboxJob(jobId));
    run.publishedLogSize = size;
  }
  if (run.finishing) return;
  await ctx.inbox.update(jobId, {
    heartbeat_at: ctx.now().toISOString(),
    ...(run.progress ? { progress: run.progress } : {}),
  });
}
