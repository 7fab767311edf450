import { mkdir } from "node:fs/promises";
import path from "node:path";
import { checkQueueLayout, createKeyedSerial, describeZodError, packageVersion } from "../protocol/index.ts";
import type { ArrivalWatches } from "./arrival-watches.ts";
import { createArrivalWatches } from "./arrival-watches.ts";
import type { RunnerConfig, RunnerConfigInput } from "./config.ts";
import { RunnerConfigSchema } from "./config.ts";
import type { RunnerContext } from "./context.ts";
import { rebuildLedger } from "./inbox-record.ts";
import { createInboxWriter } from "./inbox-writer.ts";
import { beatRun } from "./job-heartbeat.ts";
import { prepareWorkDir } from "./job-intake.ts";
import { openLedger } from "./ledger.ts";
import { createLicenceGate } from "./licence-gate.ts";
import { licenceSetting } from "./licence-servers.ts";
import type { Logger } from "./log.ts";
import { createLogger, errorMessage } from "./log.ts";
import type { RunnerBridge } from "./nats/bridge.ts";
import { startNatsBridge } from "./nats/start-bridge.ts";
import { createOtherRunnerGuard } from "./other-runners.ts";
import { considerCancel, considerEntry } from "./outbox-events.ts";
import type { OutboxWatcher } from "./outbox-watcher.ts";
import { watchOutbox } from "./outbox-watcher.ts";
import { runnerPaths } from "./paths.ts";
import { recover } from "./recovery.ts";
import type { RescanMemory } from "./rescan.ts";
import { newRescanMemory, rescanQueue } from "./rescan.ts";
import { startRun } from "./run-start.ts";
import { runnerHeartbeatOf, writeRunnerHeartbeat } from "./runner-heartbeat.ts";
import { keyLogLines, loadRunnerKeys } from "./runner-keys.ts";
import { createScheduler } from "./slot-scheduler.ts";
import { lockStateDir } from "./state-lock.ts";
import { checkRun, stopRun } from "./supervised-run.ts";
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
  /**
   * Stops watching and taking jobs. Running jobs keep running under their supervisors and are adopted
   * by the next start; with `stopJobs` they are stopped and fail with runner_restart instead.
   */
  stop(options?: { stopJobs?: boolean }): Promise<void>;
  /** --once: resolves when nothing is queued or running any more. Otherwise resolves on stop(). */
  done: Promise<void>;
}

export function createRunner(input: RunnerConfigInput, options: RunnerOptions = {}): Runner {
  const checked = RunnerConfigSchema.safeParse(input);
  if (!checked.success) throw new Error(`runner settings: ${describeZodError(checked.error)}`);
  const parsed = checked.data;
  // Resolved once, here: the job's cwd is its work copy, so a relative folder would point elsewhere.
  const config = {
    ...parsed,
    queueDir: path.resolve(parsed.queueDir),
    workDir: path.resolve(parsed.workDir),
    stateDir: path.resolve(parsed.stateDir),
    trustKeys: parsed.trustKeys.map((file) => path.resolve(file)),
    ...(parsed.signingKey ? { signingKey: path.resolve(parsed.signingKey) } : {}),
  };
  const log = options.log ?? createLogger();
  const now = options.now ?? (() => new Date());
  const paths = runnerPaths(config.queueDir, config.workDir, config.stateDir);
  let resolveDone = () => {};
  const done = new Promise<void>((resolve) => {
    resolveDone = resolve;
  });
  const lifecycle: {
    ctx?: RunnerContext;
    watcher?: OutboxWatcher;
    arrivals?: ArrivalWatches;
    beat?: NodeJS.Timeout;
    release?: () => Promise<void>;
    stopping: boolean;
    /** This runner got past its start-up checks: inbox/.runners/<host>.json is its own to write. */
    beatOwned?: boolean;
    scanning: boolean;
    beating: boolean;
    scanned: boolean;
    rescans: RescanMemory;
    bridge?: RunnerBridge; // --nats: moves jobs between NATS and the local queue
  } = { stopping: false, scanning: false, beating: false, scanned: false, rescans: newRescanMemory() };

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
      await rescanQueue(ctx, guard, lifecycle.rescans);
    } finally {
      lifecycle.scanning = false;
    }
  };

  // One heartbeat file, written one beat at a time in call order: a beat already under way when stop()
  // began lands before the last one (stopped_at), never after it, and once stopping only that one is
  // written. Without this a beat that finished late replaced the stopped record with a live-looking
  // one, and submitters took a stopped runner's trusted keys for a live runner's (Windows lane).
  const beats = createKeyedSerial();
  const publishHeartbeat = (ctx: RunnerContext, stoppedAt?: Date): Promise<void> =>
    beats.run("heartbeat", async () => {
      if (lifecycle.stopping && stoppedAt === undefined) return;
      await writeRunnerHeartbeat(paths, runnerHeartbeatOf(ctx, stoppedAt), ctx.keys.recordKey);
    });

  const others = createOtherRunnerGuard({
    runnersDir: paths.queue.runnersDir,
    host: config.host,
    allow: config.allowOtherRunners,
    log,
  });
  const watchForOtherRunners = (ctx: RunnerContext) => others.check(ctx.startedAt, !lifecycle.scanned);

  const heartbeat = async (ctx: RunnerContext): Promise<void> => {
    if (lifecycle.beating) return;
    lifecycle.beating = true;
    try {
      // Views a full disk kept out of inbox/ are published as soon as it takes them again.
      await ctx.inbox.flush();
      await Promise.all(
        [...ctx.active.values()].map((run) =>
          ctx.serial
            .run(run.jobId, async () => {
              // The safety net behind the run folder's watch: an outcome or a vanished supervisor.
              await checkRun(ctx, run);
              await beatRun(ctx, run);
            })
            .catch(guard(ctx, "heartbeat", run.jobId)),
        ),
      );
      await publishHeartbeat(ctx).catch(guard(ctx, "runner heartbeat"));
      await watchForOtherRunners(ctx).catch(guard(ctx, "other runners check"));
      // A start a full disk turned back is tried again.
      ctx.pump();
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
      // Before the lock and any job: a runner told to trust a key it cannot load must not run anything.
      const keys = await loadRunnerKeys(config, config.queueDir);
      await mkdir(config.workDir, { recursive: true });
      await mkdir(config.stateDir, { recursive: true });
      const lock = await lockStateDir(config.stateDir);
      lifecycle.release = lock.release;
      // A ledger that cannot be read stops the start here: the runner never runs on a forgotten history.
      const ledger = await openLedger(
        config.stateDir,
        (message) => log("ledger warning", undefined, message),
        (message) => log("ledger", undefined, message),
      ).catch(async (error: unknown) => {
        await lock.release();
        throw error;
      });
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
        inbox: createInboxWriter(paths, now, keys.recordKey),
        keys,
        scheduler: createScheduler(config.slots),
        serial: createKeyedSerial(),
        log,
        runnerInfo: { host: config.host, version: packageVersion(), heartbeat_s: config.heartbeatS },
        licence: createLicenceGate({
          setting: licenceSetting(config.licenceServer, process.env),
          jobTypes: config.nxJobTypes,
          pollMs: config.licencePollS * 1000,
          now,
          log: (event, detail) => log(event, undefined, detail),
          onAnswer: () => {
            ctx.scheduler.release();
            ctx.pump();
            void publishHeartbeat(ctx).catch(guard(ctx, "runner heartbeat"));
          },
        }),
        active: new Map(),
        pending: new WatchedPendingJobs(arrivals, (jobId, task) => ctx.serial.run(jobId, task)),
        noted: new Set(),
        archiveChecked: new Set(),
        goneSince: new Map(),
        startedAt: now(),
        now,
        isStopping: () => lifecycle.stopping,
        intakeBlocked: () => others.blocked(),
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
      for (const [event, detail] of keyLogLines(keys)) log(event, undefined, detail);
      await watchForOtherRunners(ctx);
      await recover(ctx);
      if (ledger.fresh) await rebuildLedger(ctx);
      // Nothing runs yet: recovery never starts a job (only pump() does, after the first scan).
      lifecycle.beatOwned = true;
      await publishHeartbeat(ctx).catch(guard(ctx, "runner heartbeat"));
      lifecycle.watcher = watchOutbox(paths, config.rescanS * 1000, {
        onEntry: (name) =>
          void ctx.serial.run(name, () => considerEntry(ctx, name)).catch(guard(ctx, "intake", name)),
        onCancel: (jobId) =>
          void ctx.serial.run(jobId, () => considerCancel(ctx, jobId)).catch(guard(ctx, "cancel", jobId)),
        onRescan: () => void scan(ctx).catch(guard(ctx, "rescan")),
        onError: guard(ctx, "watch"),
      });
      lifecycle.beat = setInterval(() => void heartbeat(ctx), config.heartbeatS * 1000);
      await scan(ctx);
      lifecycle.scanned = true;
      ctx.pump();
      const nats = config.nats;
      if (nats) lifecycle.bridge = await startNatsBridge(ctx, { ...config, nats }, log, now);
    },
    async stop(stopOptions = {}) {
      const ctx = lifecycle.ctx;
      if (lifecycle.stopping || !ctx) return;
      lifecycle.stopping = true;
      lifecycle.bridge?.quiesce();
      clearInterval(lifecycle.beat);
      ctx.licence.close();
      await lifecycle.watcher?.close();
      await lifecycle.arrivals?.close();
      const runs = [...ctx.active.values()];
      if (stopOptions.stopJobs) {
        await Promise.all(
          runs.map((run) =>
            stopRun(ctx, run.jobId, {
              kind: "runner_restart",
              message: "the runner was stopped with its jobs; resume it with resume_from, or resubmit it",
            }),
          ),
        );
        await Promise.all(runs.map((run) => run.finished));
      } else {
        for (const run of runs) run.unfollow?.();
        if (runs.length > 0)
          log(
            "detached",
            undefined,
            `${runs.length} job(s) keep running under their supervisors and are taken over at the next start: ${runs.map((r) => r.jobId).join(", ")}`,
          );
      }
      await ctx.serial.idle();
      // The last word: submitters show this runner as stopped (with what it left queued), not as silent.
      // Not when it never got going: the heartbeat file may be another live runner's (the same --host).
      if (lifecycle.beatOwned) await publishHeartbeat(ctx, ctx.now()).catch(guard(ctx, "runner heartbeat"));
      // After the last heartbeat, so the bridge carries it (and any end published meanwhile) to NATS.
      await lifecycle.bridge?.stop().catch(guard(ctx, "nats bridge stop"));
      await ctx.ledger.close();
      await lifecycle.release?.();
      log("stopped");
      resolveDone();
    },
  };
}
