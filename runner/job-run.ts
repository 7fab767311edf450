import { stat } from "node:fs/promises";
import type { Job, JobError, TerminalStatus } from "../protocol/index.ts";
import { isTerminal, JOB_ENV, MAX_MANIFEST_ENTRIES, readLogTail, tailLines } from "../protocol/index.ts";
import type { ActiveRun, RunnerContext } from "./context.ts";
import { machineCondition } from "./fs-conditions.ts";
import type { ProcessExit } from "./job-exit.ts";
import { errorMessage } from "./log.ts";
import { readProgress } from "./progress-reader.ts";
import { publishLog, publishResults } from "./results-publisher.ts";
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
    const tail = tailLines(
      await readLogTail(ctx.paths.workLog(jobId), { maxLines: ctx.config.logTailLines }).catch(
        () => ({ kind: "absent" }) as const,
      ),
    );
    const end = outcome(exit, run, tail);
    // A run adopted before its inbox record said running (the runner died right after the launch).
    if (ctx.inbox.current(jobId)?.status === "queued" && end.status === "completed")
      await ctx.inbox.transition(jobId, "running", { runner: ctx.runnerInfo });
    const current = ctx.inbox.current(jobId);
    // A retry after a failed write: the end is decided already; publish it (again) before the ledger.
    if (current && isTerminal(current.status) && (await ctx.inbox.flush()) > 0) {
      retryLater = true;
      run.finishing = false;
      return;
    }
    const final =
      current && isTerminal(current.status)
        ? current
        : await ctx.inbox.transition(jobId, end.status, {
            exit_code: exit.code,
            ...(end.error ? { error: end.error } : {}),
            ...(progress ? { progress } : {}),
            results: {
              files: published.files,
              published_at: ctx.now().toISOString(),
              ...(published.problems.length > 0 ? { problems: published.problems } : {}),
            },
          });
    await ctx.ledger.append({
      event: "finished",
      job_id: jobId,
      at: ctx.now().toISOString(),
      status: end.status,
    });
    ctx.log(
      final.status,
      jobId,
      end.error ? `${end.error.kind}: ${end.error.message}` : `${published.files.length} result files`,
    );
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
    await failInternally(
      ctx,
      jobId,
      `the runner could not publish the end of the run: ${errorMessage(error)}`,
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

/** Last resort when publishing an end failed: say so in job.json and close the job in the ledger. */
export async function failInternally(ctx: RunnerContext, jobId: string, message: string): Promise<void> {
  const view = ctx.inbox.current(jobId);
  if (view && !isTerminal(view.status)) {
    await ctx.inbox.transition(jobId, "failed", { error: { kind: "internal", message } });
  }
  if (ctx.ledger.get(jobId)?.status === undefined) {
    await ctx.ledger.append({
      event: "finished",
      job_id: jobId,
      at: ctx.now().toISOString(),
      status: "failed",
    });
  }
}
