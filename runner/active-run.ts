import type { Job } from "../protocol/index.ts";
import type { ActiveRun, RunnerContext } from "./context.ts";
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

/** Wall-clock limit of a run: the job's timeout_s, never above the runner-wide maximum. */
export function runLimitS(job: Job, maxRuntimeS: number): number {
  return job.timeout_s === undefined ? maxRuntimeS : Math.min(job.timeout_s, maxRuntimeS);
}
