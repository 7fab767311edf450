import { randomBytes } from "node:crypto";
import { mkdir } from "node:fs/promises";
import { JOB_ENV } from "../protocol/index.ts";
import { newRun, runLimitS } from "./active-run.ts";
import type { RunnerContext } from "./context.ts";
import { finishJob } from "./finish-job.ts";
import { machineCondition } from "./fs-conditions.ts";
import { chooseInterpreter } from "./interpreter.ts";
import { errorMessage } from "./log.ts";
import { withoutNatsSettings } from "./nats/secret-env.ts";
import { sameRunFields } from "./own-record.ts";
import { localPath } from "./paths.ts";
import { finishRun } from "./run-end.ts";
import { checkBeforeStart } from "./start-check.ts";
import { follow, killRun } from "./supervised-run.ts";
import { launchSupervisor } from "./supervisor/launch-supervisor.ts";
import { abandonRun } from "./supervisor/run-view.ts";

/**
 * The environment a script runs with: the protocol's JOB_ENV, and unbuffered Python so the log is live
 * and in order; never the runner's NATS credentials.
 */
export function jobEnvironment(ctx: Pick<RunnerContext, "paths">, jobId: string): NodeJS.ProcessEnv {
  return {
    ...withoutNatsSettings(process.env),
    [JOB_ENV.jobId]: jobId,
    [JOB_ENV.jobDir]: ctx.paths.workJob(jobId),
    [JOB_ENV.resultsDir]: ctx.paths.workResults(jobId),
    PYTHONUNBUFFERED: "1",
    PYTHONIOENCODING: "utf-8",
  };
}

/**
 * Starts a queued job under a supervisor: ledger first (so a crash from here on can never lead to a
 * second run), then the run request and the supervisor, then job.json says running. Call inside the
 * job's serial lane.
 */
export async function startRun(ctx: RunnerContext, jobId: string): Promise<void> {
  const entry = ctx.ledger.get(jobId);
  const view = ctx.inbox.current(jobId);
  if (ctx.isStopping() || !entry || entry.status !== undefined || entry.foreign || !view) {
    // Stays queued in the ledger: the next start runs it.
    ctx.scheduler.finish(jobId);
    return;
  }
  // Defense in depth: what starts is the work copy intake checked, checked once more.
  const checked = await checkBeforeStart(ctx, jobId, view);
  if (!checked.ok) {
    ctx.scheduler.finish(jobId);
    const { error } = checked;
    await finishJob(ctx, jobId, {
      status: "failed",
      fields: { error },
      detail: `${error.kind}: ${error.message}`,
    });
    ctx.pump();
    return;
  }
  const job = checked.job;
  if (!sameRunFields(job, view)) ctx.inbox.adopt(job);
  // Before the ledger's "started": a job held for its licence server has provably not started.
  const admission = await ctx.licence.admit(job.type);
  if (ctx.isStopping()) {
    ctx.scheduler.finish(jobId);
    return;
  }
  if (!admission.ok) {
    ctx.scheduler.hold(jobId, job.queued_at ?? ctx.now().toISOString());
    if (job.waiting_for !== admission.waitingFor) {
      await ctx.inbox.update(jobId, { waiting_for: admission.waitingFor });
      ctx.log("waiting", jobId, `${admission.waitingFor}: it starts as soon as one answers`);
    }
    return;
  }
  const startedAt = ctx.now();
  const run = newRun(ctx, jobId, startedAt.getTime(), runLimitS(job, ctx.config.maxRuntimeS));
  run.starting = true;
  ctx.active.set(jobId, run);
  const giveBack = async (error: unknown, condition: string, requeue: boolean) => {
    if (requeue)
      await ctx.ledger
        .append({ event: "requeued", job_id: jobId, at: ctx.now().toISOString(), reason: condition })
        .catch(() => undefined);
    ctx.active.delete(jobId);
    ctx.scheduler.finish(jobId);
    if (ctx.isStopping()) return;
    ctx.scheduler.enqueue(jobId, job.queued_at ?? entry.accepted_at);
    ctx.log(
      "waiting",
      jobId,
      `${condition} while starting the job; it stays queued and is retried (${errorMessage(error)})`,
    );
  };
  // Once launched, the run must be followed whatever happens to this write.
  const publishRunning = async () => {
    const patch = { runner: ctx.runnerInfo, heartbeat_at: ctx.now().toISOString(), waiting_for: undefined };
    try {
      // Running already when a run that never launched was queued again after a restart.
      if (ctx.inbox.current(jobId)?.status === "running") await ctx.inbox.update(jobId, patch);
      else await ctx.inbox.transition(jobId, "running", patch);
    } catch (error) {
      ctx.log(
        "waiting",
        jobId,
        `could not publish running yet (${errorMessage(error)}); the next write catches up`,
      );
    }
  };
  try {
    await ctx.ledger.append({
      event: "started",
      job_id: jobId,
      at: startedAt.toISOString(),
      supervised: true,
    });
  } catch (error) {
    const condition = machineCondition(error);
    if (!condition) throw error;
    await giveBack(error, condition, false);
    return;
  }
  // A stop that came while the start was recorded: nothing is launched yet, so nothing has run.
  if (ctx.isStopping() && !run.stopReason) {
    await giveBack(new Error("the runner is stopping"), "the runner stopped", true);
    return;
  }
  if (run.stopReason) {
    await finishRun(ctx, run, { code: null, signal: null });
    return;
  }
  const workDir = ctx.paths.workJob(jobId);
  const choice = chooseInterpreter(localPath(workDir, job.script), job.args, {
    python: ctx.config.python,
    platform: ctx.platform,
    ...(process.env.ComSpec ? { comSpec: process.env.ComSpec } : {}),
  });
  if (!choice.ok) {
    await publishRunning();
    await finishRun(ctx, run, { code: null, signal: null, spawnError: choice.problem });
    return;
  }
  let launched: Awaited<ReturnType<typeof launchSupervisor>>;
  try {
    await mkdir(ctx.paths.workResults(jobId), { recursive: true });
    launched = await launchSupervisor(
      run.dir,
      {
        job_id: jobId,
        // A new token for each attempt: its supervisor acts only on the run files named with it.
        run_token: randomBytes(12).toString("hex"),
        command: choice.invocation.command,
        args: choice.invocation.args,
        windows_verbatim: choice.invocation.windowsVerbatimArguments ?? false,
        cwd: workDir,
        log_path: ctx.paths.workLog(jobId),
        created_at: startedAt.toISOString(),
      },
      jobEnvironment(ctx, jobId),
    );
  } catch (error) {
    const condition = machineCondition(error);
    if (condition && (await abandonRun(run.dir).catch(() => false))) {
      // Nothing was launched: a full work disk delays the job, it does not fail it.
      await giveBack(error, condition, true);
      return;
    }
    await publishRunning();
    await finishRun(ctx, run, { code: null, signal: null, spawnError: errorMessage(error) });
    return;
  }
  await publishRunning();
  if (launched.pid === undefined) {
    await finishRun(ctx, run, {
      code: null,
      signal: null,
      spawnError: `${process.execPath} did not start the job's supervisor`,
    });
    return;
  }
  run.supervisor = { pid: launched.pid, start: null };
  run.starting = false;
  ctx.log(
    "started",
    jobId,
    `${choice.invocation.command} ${choice.invocation.args.join(" ")} (supervisor pid ${launched.pid})`,
  );
  // Launched while the runner was stopping (it detaches its runs): the next start takes it over.
  if (ctx.isStopping() && !run.stopReason) return;
  follow(ctx, run, launched.exited);
  // A stop asked for while this run was being started is carried out now that it can be.
  if (run.stopReason)
    void killRun(ctx, run).catch((error: unknown) => ctx.log("kill failed", jobId, errorMessage(error)));
}
