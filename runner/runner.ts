import { mkdir, readdir } from "node:fs/promises";
import { CANCEL_DIR, checkQueueLayout, errnoCode, packageVersion } from "../protocol/index.ts";
import type { ArrivalWatches } from "./arrival-watches.ts";
import { createArrivalWatches } from "./arrival-watches.ts";
import { cleanupFinished } from "./cleanup.ts";
import type { RunnerConfig, RunnerConfigInput } from "./config.ts";
import { RunnerConfigSchema } from "./config.ts";
import type { RunnerContext } from "./context.ts";
import { createInboxWriter } from "./inbox-writer.ts";
import { considerCancel, considerEntry } from "./job-control.ts";
import { prepareWorkDir } from "./job-intake.ts";
import { beatRun, startRun, stopRun } from "./job-run.ts";
import type { JobWatcher } from "./job-watcher.ts";
import { watchOutbox } from "./job-watcher.ts";
import { openLedger } from "./ledger.ts";
import type { Logger } from "./log.ts";
import { createLogger, errorMessage } from "./log.ts";
import { runnerPaths } from "./paths.ts";
import { recover } from "./recovery.ts";
import { writeRunnerHeartbeat } from "./runner-heartbeat.ts";
import { createScheduler } from "./scheduler.ts";
import { createKeyedSerial } from "./serial.ts";
import { lockStateDir } from "./state-lock.ts";
import { WatchedPendingJobs } from "./watched-pending.ts";

export interface RunnerOptions {
  log?: Logger;
  platform?: NodeJS.Platform;
  now?: () => Date;
}

export interface Runner {
  config: RunnerConfig;
  /** Resolves once recovery and the first scan are done and the watchers run. */
  start(): Promise<void>;
  /** Stops watching; running jobs are stopped and fail with runner_restart (they are never re-run). */
  stop(): Promise<void>;
  /** --once: resolves when nothing is queued or running any more. Otherwise resolves on stop(). */
  done: Promise<void>;
}

async function listNames(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (error) {
    if (errnoCode(error) === "ENOENT") return [];
    throw error;
  }
}

export function createRunner(input: RunnerConfigInput, options: RunnerOptions = {}): Runner {
  const config = RunnerConfigSchema.parse(input);
  const log = options.log ?? createLogger();
  const now = options.now ?? (() => new Date());
  const paths = runnerPaths(config.queueDir, config.workDir, config.stateDir);
  let resolveDone = () => {};
  const done = new Promise<void>((resolve) => {
    resolveDone = resolve;
  });
  const lifecycle: {
    ctx?: RunnerContext;
    watcher?: JobWatcher;
    arrivals?: ArrivalWatches;
    beat?: NodeJS.Timeout;
    release?: () => Promise<void>;
    stopping: boolean;
    scanning: boolean;
    beating: boolean;
    scanned: boolean;
  } = { stopping: false, scanning: false, beating: false, scanned: false };

  const checkDrained = (ctx: RunnerContext): void => {
    if (!config.once || !lifecycle.scanned) return;
    if (ctx.scheduler.queued().length === 0 && ctx.scheduler.running().length === 0) resolveDone();
  };

  const guard = (ctx: RunnerContext, what: string, jobId?: string) => (error: unknown) => {
    ctx.log(`${what} failed`, jobId, errorMessage(error));
  };

  const scan = async (ctx: RunnerContext): Promise<void> => {
    if (lifecycle.scanning || lifecycle.stopping) return;
    lifecycle.scanning = true;
    try {
      const names = await listNames(paths.queue.outbox);
      // Ids the ledger knows need no intake (a reappearing folder is noted from its watch event), so a
      // rescan of a 10,000-job queue costs one readdir, not an lstat per finished job.
      await Promise.all(
        names
          .filter((name) => ctx.ledger.get(name) === undefined)
          .map((name) =>
            ctx.serial.run(name, () => considerEntry(ctx, name)).catch(guard(ctx, "intake", name)),
          ),
      );
      const cancels = (await listNames(paths.queue.cancelDir))
        .filter((n) => n.endsWith(".json"))
        .map((n) => n.slice(0, -5));
      await Promise.all(
        cancels.map((id) =>
          ctx.serial.run(id, () => considerCancel(ctx, id)).catch(guard(ctx, "cancel", id)),
        ),
      );
      await cleanupFinished({
        paths,
        ledger: ctx.ledger,
        config,
        goneSince: ctx.goneSince,
        outboxNames: new Set(names),
        nowMs: () => ctx.now().getTime(),
        log: ctx.log,
        forget: ctx.inbox.forget,
      }).catch(guard(ctx, "cleanup"));
    } finally {
      lifecycle.scanning = false;
    }
  };

  const publishHeartbeat = (ctx: RunnerContext, stoppedAt?: Date): Promise<void> =>
    writeRunnerHeartbeat(paths, {
      ...(stoppedAt ? { stopped_at: stoppedAt.toISOString() } : {}),
      host: config.host,
      version: ctx.runnerInfo.version,
      pid: process.pid,
      slots: config.slots,
      running: ctx.scheduler.running(),
      queued: ctx.scheduler.queued(),
      started_at: ctx.startedAt.toISOString(),
      last_seen: ctx.now().toISOString(),
      interval_s: config.heartbeatS,
    });

  const heartbeat = async (ctx: RunnerContext): Promise<void> => {
    if (lifecycle.beating) return;
    lifecycle.beating = true;
    try {
      await Promise.all(
        [...ctx.active.values()].map((run) =>
          ctx.serial.run(run.jobId, () => beatRun(ctx, run)).catch(guard(ctx, "heartbeat", run.jobId)),
        ),
      );
      await publishHeartbeat(ctx).catch(guard(ctx, "runner heartbeat"));
    } finally {
      lifecycle.beating = false;
    }
  };

  return {
    config,
    done,
    async start() {
      const problems = await checkQueueLayout(config.queueDir);
      if (problems.length > 0) throw new Error(problems.join("; "));
      await mkdir(config.workDir, { recursive: true });
      await mkdir(config.stateDir, { recursive: true });
      const lock = await lockStateDir(config.stateDir);
      lifecycle.release = lock.release;
      const ledger = await openLedger(config.stateDir, (message) =>
        log("ledger warning", undefined, message),
      );
      await prepareWorkDir(paths);
      // While a job waits for its files its folder is watched, so the last file to land starts it.
      const arrivals = createArrivalWatches({
        outbox: paths.queue.outbox,
        limit: config.arrivalWatchLimit,
        recheck: (jobId) => ctx.serial.run(jobId, () => considerEntry(ctx, jobId)),
        onLimit: (jobId, limit) =>
          log(
            "note",
            jobId,
            `${limit} job folders are watched already: the ${config.rescanS} s rescan looks at this one until a watch is free`,
          ),
        onError: (jobId, error) => log("watch failed", jobId, errorMessage(error)),
      });
      lifecycle.arrivals = arrivals;
      const ctx: RunnerContext = {
        config,
        paths,
        platform: options.platform ?? process.platform,
        ledger,
        inbox: createInboxWriter(paths, now),
        scheduler: createScheduler(config.slots),
        serial: createKeyedSerial(),
        log,
        runnerInfo: { host: config.host, version: packageVersion(), heartbeat_s: config.heartbeatS },
        active: new Map(),
        pending: new WatchedPendingJobs(arrivals, (jobId, task) => ctx.serial.run(jobId, task)),
        noted: new Set(),
        goneSince: new Map(),
        startedAt: now(),
        now,
        isStopping: () => lifecycle.stopping,
        pump: () => {
          if (lifecycle.stopping) return;
          for (const jobId of ctx.scheduler.takeStartable()) {
            void ctx.serial.run(jobId, () => startRun(ctx, jobId)).catch(guard(ctx, "start", jobId));
          }
          checkDrained(ctx);
        },
      };
      lifecycle.ctx = ctx;
      log(
        "starting",
        undefined,
        `queue ${config.queueDir}, work ${config.workDir}, state ${config.stateDir}, ${config.slots} slot(s), python ${config.python}`,
      );
      await recover(ctx);
      // Nothing runs yet: recovery never starts a job (only pump() does, after the first scan).
      await publishHeartbeat(ctx);
      lifecycle.watcher = watchOutbox(paths, config.rescanS * 1000, {
        onEntry: (name) => {
          if (name === CANCEL_DIR) return;
          void ctx.serial.run(name, () => considerEntry(ctx, name)).catch(guard(ctx, "intake", name));
        },
        onCancel: (jobId) =>
          void ctx.serial.run(jobId, () => considerCancel(ctx, jobId)).catch(guard(ctx, "cancel", jobId)),
        onRescan: () => void scan(ctx).catch(guard(ctx, "rescan")),
        onError: guard(ctx, "watch"),
      });
      lifecycle.beat = setInterval(() => void heartbeat(ctx), config.heartbeatS * 1000);
      await scan(ctx);
      lifecycle.scanned = true;
      ctx.pump();
    },
    async stop() {
      const ctx = lifecycle.ctx;
      if (lifecycle.stopping || !ctx) return;
      lifecycle.stopping = true;
      clearInterval(lifecycle.beat);
      await lifecycle.watcher?.close();
      await lifecycle.arrivals?.close();
      const runs = [...ctx.active.values()];
      await Promise.all(
        runs.map((run) =>
          stopRun(ctx, run.jobId, {
            kind: "runner_restart",
            message: "the runner was stopped while this job ran; it is not re-run automatically: resubmit it",
          }),
        ),
      );
      await Promise.all(runs.map((run) => run.finished));
      await ctx.serial.idle();
      // The last word: submitters show this runner as stopped (with what it left queued), not as silent.
      await publishHeartbeat(ctx, ctx.now()).catch(guard(ctx, "runner heartbeat"));
      await ctx.ledger.close();
      await lifecycle.release?.();
      log("stopped");
      resolveDone();
    },
  };
}
