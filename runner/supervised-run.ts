import { watch } from "node:fs";
import { liveness } from "../protocol/process-identity.ts";
import type { ActiveRun, RunnerContext, StopReason } from "./context.ts";
import { errorMessage } from "./log.ts";
import { setTimerAt } from "./long-timer.ts";
import { processesWithEnv, signal } from "./process-tree.ts";
import { mayRequeue, requeue } from "./requeue.ts";
import { finishRun } from "./run-end.ts";
import type { ProcessExit } from "./run-outcome.ts";
import { parseRunFileName, RUN_TOKEN_ENV } from "./supervisor/run-folder.ts";
import type { RunView } from "./supervisor/run-view.ts";
import { abandonRun, inspectRun, supervisorLogTail } from "./supervisor/run-view.ts";
import { killTree, signalGroup } from "./tree-kill.ts";

function exitOf(view: RunView): ProcessExit | undefined {
  const outcome = view.outcome;
  if (!outcome) return undefined;
  return {
    code: outcome.exit_code,
    signal: (outcome.signal as NodeJS.Signals | null) ?? null,
    endedAt: outcome.ended_at,
    ...(outcome.spawn_error !== undefined ? { spawnError: outcome.spawn_error } : {}),
  };
}

/** Takes the supervisor's and the script's identities from the current attempt's state file. */
export function learn(run: ActiveRun, view: RunView): void {
  if (view.state) {
    run.supervisor = view.state.supervisor;
    if (view.state.child) run.script = view.state.child;
  }
}

/** Ends a run with the runner's own verdict (no outcome could be had). */
async function endWithout(ctx: RunnerContext, run: ActiveRun, reason: StopReason): Promise<void> {
  run.stopReason ??= reason;
  await finishRun(ctx, run, { code: null, signal: null });
}

/**
 * Looks at a run's folder and acts on what it shows: an outcome is published as the job's end; a
 * supervisor gone without one is a lost run (power loss, a killed supervisor). Call inside the job's
 * serial lane; cheap when nothing changed.
 */
export async function checkRun(ctx: RunnerContext, run: ActiveRun): Promise<void> {
  if (run.finishing) return;
  let view = await inspectRun(run.dir);
  learn(run, view);
  const exit = exitOf(view);
  if (exit) return finishRun(ctx, run, exit);
  if (!run.supervisor || (await liveness(run.supervisor, ctx.platform)) !== "gone") return;
  // The outcome may have landed between the first read and the liveness check.
  view = await inspectRun(run.dir);
  const late = exitOf(view);
  if (late) return finishRun(ctx, run, late);
  if (!view.launched && (await abandonRun(run.dir))) {
    const why = `the job's supervisor ended before starting the script (${await supervisorLogTail(run.dir)})`;
    // The script provably never ran: the job is not over, it starts again (a stop decided meanwhile
    // ends it as decided; a supervisor that keeps dying ends it after MAX_REQUEUES).
    if (mayRequeue(ctx, run.jobId, run.stopReason !== undefined))
      return requeue(ctx, run.jobId, why, `${why}; it starts again`, run);
    const tries = (ctx.ledger.get(run.jobId)?.requeues ?? 0) + 1;
    return finishRun(ctx, run, {
      code: null,
      signal: null,
      spawnError: tries > 1 ? `${why}, at each of ${tries} tries` : why,
    });
  }
  await killLeft(ctx, run, view);
  await endWithout(ctx, run, {
    kind: "runner_restart",
    message:
      "the job's supervisor is gone without recording how the script ended (power loss, reboot, or the supervisor was killed); whatever the script wrote is published. Resume it with resume_from, or resubmit it",
  });
}

/** Kills whatever of a run's script tree is still alive, without waiting for a polite end. */
async function killLeft(ctx: RunnerContext, run: ActiveRun, view: RunView): Promise<void> {
  const token = view.spec ? { name: RUN_TOKEN_ENV, value: view.spec.run_token } : undefined;
  if (!run.script) {
    // The script's pid was never recorded: its run token still finds what it started (Linux).
    if (token) for (const pid of await processesWithEnv(token.name, token.value)) signal(pid, "SIGKILL");
    return;
  }
  const report = await killTree(run.script, {
    platform: ctx.platform,
    graceMs: 0,
    confirmMs: 2000,
    verifyRoot: true,
    ...(token ? { token } : {}),
  });
  for (const note of report.notes) ctx.log("kill", run.jobId, note);
  if (report.survivors.length > 0)
    ctx.log("kill", run.jobId, `still alive after the kill: pid ${report.survivors.join(", ")}`);
}

/**
 * Follows a run until it ends: a watch on its folder (the outcome is renamed in), the supervisor's exit
 * when this runner started it, and the run's deadline. The heartbeat's checkRun is the safety net.
 */
export function follow(ctx: RunnerContext, run: ActiveRun, exited?: Promise<void>): void {
  let followed = true;
  const check = () => {
    if (!followed) return;
    void ctx.serial
      .run(run.jobId, () => checkRun(ctx, run))
      .catch((error: unknown) => ctx.log("check failed", run.jobId, errorMessage(error)));
  };
  let watcher: ReturnType<typeof watch> | undefined;
  try {
    watcher = watch(run.dir, (_event, name) => {
      const file = name === null ? undefined : parseRunFileName(name)?.file;
      if (name === null || file === "outcome" || file === "state") check();
    });
    watcher.on("error", () => watcher?.close());
  } catch (error) {
    ctx.log("watch failed", run.jobId, `${errorMessage(error)}; the heartbeat checks the run instead`);
  }
  void exited?.then(check);
  const cancelTimer = setTimerAt(
    run.deadlineMs,
    () =>
      void stopRun(ctx, run.jobId, {
        kind: "timeout",
        message: `the job ran longer than its limit of ${run.limitS} s and was stopped`,
      }).catch((error: unknown) => ctx.log("timeout failed", run.jobId, errorMessage(error))),
    () => ctx.now().getTime(),
  );
  run.unfollow = () => {
    followed = false;
    watcher?.close();
    cancelTimer();
  };
}

/** How long after the kill the supervisor may take to record the outcome before it is stopped too. */
const OUTCOME_BOUND_MS = 10_000;

/**
 * Stops a running job's whole process tree; its end is published from the supervisor's outcome. The
 * reason is ledgered first, so a restart in between still ends the job as cancelled or timed out.
 * Bounded: a supervisor that records nothing within the bound is killed and the job ends anyway.
 */
export async function stopRun(ctx: RunnerContext, jobId: string, reason: StopReason): Promise<void> {
  const run = ctx.active.get(jobId);
  if (!run || run.finishing || run.stopReason) return;
  const at = ctx.now().toISOString();
  try {
    await ctx.ledger.append({ event: "stopping", job_id: jobId, at, reason });
  } catch (error) {
    // A stop that cannot be ledgered (full state disk) still happens: the kill must not wait on a disk.
    ctx.log("stopping", jobId, `the stop could not be ledgered (${errorMessage(error)}); stopping anyway`);
  }
  if (run.finishing || run.stopReason) return;
  run.stopReason = { ...reason, at };
  ctx.log(`stopping (${reason.kind})`, jobId, reason.message);
  // A run still being started is stopped by startRun itself, instead of or right after its launch.
  if (run.starting) return;
  await killRun(ctx, run);
}

/** The kill half of stopRun, also used when adopting a run whose stop was decided before a restart. */
export async function killRun(ctx: RunnerContext, run: ActiveRun): Promise<void> {
  const view = await inspectRun(run.dir);
  learn(run, view);
  if (!view.launched && (await abandonRun(run.dir))) {
    // The request is withdrawn: the script never starts. finishRun guards itself, so no lane is needed
    // (a caller may hold this job's lane: waiting for it here would never end).
    await endWithout(ctx, run, run.stopReason ?? STOPPED);
    return;
  }
  if (!run.script) {
    // Launched a moment ago: the supervisor records the script's pid right after spawning it.
    const started = await waitFor(async () => {
      learn(run, await inspectRun(run.dir));
      return run.script;
    }, 3000);
    if (!started) ctx.log("kill", run.jobId, "the script's pid was not recorded in time");
  }
  if (run.script) {
    const token = view.spec ? { name: RUN_TOKEN_ENV, value: view.spec.run_token } : undefined;
    const report = await killTree(run.script, {
      platform: ctx.platform,
      graceMs: ctx.config.killGraceS * 1000,
      ...(token ? { token } : {}),
    });
    for (const note of report.notes) ctx.log("kill", run.jobId, note);
    if (report.survivors.length > 0)
      ctx.log("kill", run.jobId, `still alive after the kill: pid ${report.survivors.join(", ")}`);
  }
  setTimeout(() => {
    void ctx.serial.run(run.jobId, async () => {
      await checkRun(ctx, run);
      if (run.finishing) return;
      ctx.log(
        "kill",
        run.jobId,
        `no outcome ${OUTCOME_BOUND_MS / 1000} s after the kill: stopping the supervisor`,
      );
      // Only a supervisor proved to be ours (pid and start time) is killed, never one on a guess.
      if (run.supervisor && (await liveness(run.supervisor, ctx.platform)) === "alive") {
        // POSIX: the supervisor leads its own session and group; Windows: TerminateProcess.
        if (ctx.platform !== "win32") signalGroup(run.supervisor.pid, "SIGKILL");
        else killPid(run.supervisor.pid);
      }
      await endWithout(ctx, run, run.stopReason ?? STOPPED);
    });
  }, OUTCOME_BOUND_MS).unref();
}

function killPid(pid: number): void {
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    // Gone already.
  }
}

const STOPPED: StopReason = { kind: "runner_restart", message: "the run was stopped" };

async function waitFor<T>(probe: () => Promise<T | undefined>, ms: number): Promise<T | undefined> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined || Date.now() >= deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
