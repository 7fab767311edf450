import { mkdir, stat } from "node:fs/promises";
import type { Job, JobError } from "../protocol/index.ts";
import { isTerminal, JOB_ENV } from "../protocol/index.ts";
import type { ActiveRun, RunnerContext, StopReason } from "./context.ts";
import { chooseInterpreter } from "./interpreter.ts";
import type { ProcessExit } from "./job-process.ts";
import { spawnJob } from "./job-process.ts";
import type { TerminalStatus } from "./ledger.ts";
import { errorMessage } from "./log.ts";
import { localPath } from "./paths.ts";
import { readProgress } from "./progress-reader.ts";
import { logTail, publishLog, publishResults } from "./results-publisher.ts";

function newRun(jobId: string): ActiveRun {
  let markFinished = () => {};
  const finished = new Promise<void>((resolve) => {
    markFinished = resolve;
  });
  return { jobId, publishedLogSize: -1, finishing: false, finished, markFinished };
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

/**
 * Starts a queued job: ledger first (so a crash from here on can never lead to a second run), then
 * job.json says running, then the process starts in the work copy. Call inside the job's serial lane.
 */
export async function startRun(ctx: RunnerContext, jobId: string): Promise<void> {
  if (ctx.isStopping() || ctx.ledger.get(jobId)?.status !== undefined) {
    // Stays queued in the ledger: the next start runs it.
    ctx.scheduler.finish(jobId);
    return;
  }
  const run = newRun(jobId);
  ctx.active.set(jobId, run);
  await ctx.ledger.append({ event: "started", job_id: jobId, at: ctx.now().toISOString() });
  const job = await ctx.inbox.transition(jobId, "running", {
    runner: ctx.runnerInfo,
    heartbeat_at: ctx.now().toISOString(),
  });
  const workDir = ctx.paths.workJob(jobId);
  const choice = chooseInterpreter(localPath(workDir, job.script), job.args, {
    python: ctx.config.python,
    platform: ctx.platform,
    ...(process.env.ComSpec ? { comSpec: process.env.ComSpec } : {}),
  });
  if (!choice.ok) {
    await finishRun(ctx, run, { code: null, signal: null, spawnError: choice.problem });
    return;
  }
  try {
    await mkdir(ctx.paths.workResults(jobId), { recursive: true });
    run.process = await spawnJob({
      invocation: choice.invocation,
      cwd: workDir,
      env: jobEnvironment(ctx, jobId),
      logPath: ctx.paths.workLog(jobId),
      platform: ctx.platform,
      killGraceMs: ctx.config.killGraceS * 1000,
    });
  } catch (error) {
    await finishRun(ctx, run, { code: null, signal: null, spawnError: errorMessage(error) });
    return;
  }
  const { process: child } = run;
  if (child.pid !== undefined) {
    await ctx.ledger.append({ event: "pid", job_id: jobId, at: ctx.now().toISOString(), pid: child.pid });
  }
  ctx.log(
    "started",
    jobId,
    `${choice.invocation.command} ${choice.invocation.args.join(" ")} (pid ${child.pid ?? "none"})`,
  );
  const limitS = runLimitS(job, ctx.config.maxRuntimeS);
  run.timeout = setTimeout(() => {
    void stopRun(ctx, jobId, {
      kind: "timeout",
      message: `the job ran longer than its limit of ${limitS} s and was stopped`,
    });
  }, limitS * 1000);
  void child.exited.then((exit) => ctx.serial.run(jobId, () => finishRun(ctx, run, exit)));
}

/** Stops a running job's whole process tree; its end is published when the process exits. */
export async function stopRun(ctx: RunnerContext, jobId: string, reason: StopReason): Promise<void> {
  const run = ctx.active.get(jobId);
  if (!run || run.finishing || run.stopReason) return;
  run.stopReason = reason;
  ctx.log(`stopping (${reason.kind})`, jobId, reason.message);
  await run.process?.kill();
}

function outcome(
  exit: ProcessExit,
  run: ActiveRun,
  tail: string[],
): { status: TerminalStatus; error?: JobError } {
  const stop = run.stopReason;
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
  clearTimeout(run.timeout);
  const jobId = run.jobId;
  try {
    const workDir = ctx.paths.workJob(jobId);
    const progress = await readProgress(ctx.paths.workResults(jobId), run.progress, ctx.now());
    const published = await publishResults(workDir, ctx.paths.inboxJob(jobId));
    for (const problem of published.problems) ctx.log("result not published", jobId, problem);
    const tail = await logTail(ctx.paths.workLog(jobId), ctx.config.logTailLines);
    const end = outcome(exit, run, tail);
    const final = await ctx.inbox.transition(jobId, end.status, {
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
    ctx.log("could not publish the end of the run", jobId, errorMessage(error));
    await failInternally(
      ctx,
      jobId,
      `the runner could not publish the end of the run: ${errorMessage(error)}`,
    ).catch((again: unknown) => ctx.log("could not record the failure either", jobId, errorMessage(again)));
  } finally {
    ctx.active.delete(jobId);
    ctx.scheduler.finish(jobId);
    run.markFinished();
    ctx.pump();
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
