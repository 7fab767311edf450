import { mkdir } from "node:fs/promises";
import path from "node:path";
import { createKeyedSerial } from "../../protocol/index.ts";
import type { NatsQueue } from "../../protocol/nats-connect.ts";
import { openNats } from "../../protocol/nats-connect.ts";
import { natsSetup } from "../../protocol/nats-setup.ts";
import type { RunnerConfig } from "../config.ts";
import type { Logger } from "../log.ts";
import { errorMessage } from "../log.ts";
import { runnerPaths } from "../paths.ts";
import type { NatsRunnerConfig } from "./bridge-config.ts";
import type { BridgeContext } from "./bridge-context.ts";
import { createClaimBook } from "./bridge-context.ts";
import { followSubmitters, sweepArchived } from "./cancel-follow.ts";
import { keepLeases } from "./claim-lease.ts";
import type { Dispatcher } from "./dispatch.ts";
import { startDispatch } from "./dispatch.ts";
import { publishHeartbeats } from "./heartbeat-publisher.ts";
import { hostNameProblem, refuseSecondRunner, thisInstance } from "./host-guard.ts";
import { createInboxPublisher } from "./inbox-publisher.ts";
import { followPools, listPools } from "./licence-pools.ts";
import { folderJobs } from "./local-outbox.ts";
import { reconcileLicences, republishQueued, resumeClaims, sweepRunRecords } from "./resume.ts";
import type { RunnerJobs } from "./runner-jobs.ts";

export type { RunnerJobs } from "./runner-jobs.ts";
export { runnerJobs } from "./runner-jobs.ts";

// The runner side of the NATS backend, in the runner's process: the runner works on its local folder
// queue as always, and this bridge moves the protocol's files between that folder and NATS JetStream
// (docs/PROTOCOL.md, "Several workstations"). KV compare-and-set on the claim decides which host
// starts a job; the work-queue message only wakes a runner.

export interface RunnerBridge {
  /** Connects, resumes this host's claims, then follows KV and the local inbox and takes jobs. */
  start(): Promise<void>;
  /** Takes no more jobs (the runner is stopping); what is under way still finishes. */
  quiesce(): void;
  /** Publishes what is left (the last heartbeat), stops everything and closes the connection. */
  stop(): Promise<void>;
}

export interface RunnerBridgeOptions {
  config: RunnerConfig & { nats: NatsRunnerConfig };
  log: Logger;
  /**
   * The runner's own stop and refusal of a job (runner-jobs.ts): no cancel file, so signed runners
   * obey it too. Absent (a bridge without a runner in its process): cancel files (local-outbox.ts).
   */
  jobs?: RunnerJobs;
  now?: () => Date;
  env?: NodeJS.ProcessEnv;
}

export function createRunnerBridge(options: RunnerBridgeOptions): RunnerBridge {
  const { config, log } = options;
  const now = options.now ?? (() => new Date());
  const state: {
    stopping: boolean;
    closed: boolean;
    stops: Array<() => void>;
    q?: NatsQueue;
    ctx?: BridgeContext;
    dispatch?: Dispatcher;
    /** Sweeps and republishes, one after the other; stop() waits for the one under way. */
    chores: Promise<void>;
  } = {
    stopping: false,
    closed: false,
    stops: [],
    chores: Promise.resolve(),
  };
  // What start() sets going, stopped by stop(); set going after stop() began (a stop during the
  // start), it is stopped at once, so nothing keeps the process alive.
  const own = (stopIt: () => void) => {
    if (state.closed) stopIt();
    else state.stops.push(stopIt);
  };
  let follow: (jobId: string) => void = () => {};
  let flushHeartbeat = async () => {};
  let flushInbox = async () => {};

  const connect = async (): Promise<NatsQueue> => {
    const settings = {
      url: config.nats.url,
      ...(config.nats.credsFile ? { credsFile: config.nats.credsFile } : {}),
    };
    const q = await openNats(settings, options.env ?? process.env, {
      name: `atomizer-jobs runner ${config.host}`,
    });
    if (config.nats.licences)
      for (const line of await natsSetup(q.nc, { licences: config.nats.licences }))
        if (line.startsWith("licence")) log("nats setup", undefined, line);
    return q;
  };

  return {
    async start() {
      const badHost = hostNameProblem(config.host);
      if (badHost) throw new Error(badHost);
      const q = await connect();
      state.q = q;
      if (state.stopping) {
        await q.close();
        return;
      }
      // Before anything is published or resumed: the claims of this host name may be another runner's.
      const instance = await thisInstance();
      await refuseSecondRunner({ q, host: config.host, now }, instance, config.heartbeatS).catch(
        async (error: unknown) => {
          state.q = undefined;
          await q.close().catch(() => undefined);
          throw error;
        },
      );
      const pools = new Set<string>();
      const paths = runnerPaths(config.queueDir, config.workDir, config.stateDir);
      const ctx: BridgeContext = {
        q,
        host: config.host,
        slots: config.slots,
        nxJobTypes: config.nxJobTypes,
        signedOnly: config.trustKeys.length > 0,
        nats: config.nats,
        paths,
        stagingDir: path.join(config.queueDir, ".staging"),
        book: createClaimBook(),
        pools,
        serial: createKeyedSerial(),
        log,
        now,
        isStopping: () => state.stopping,
        wake: () => state.dispatch?.wake(),
        follow: (jobId) => follow(jobId),
        jobs: options.jobs ?? folderJobs({ paths, host: config.host, now }),
        noted: new Set(),
      };
      state.ctx = ctx;
      // The watch first, then the listing: a pool created in between is in one of them, and dispatch
      // (later) never takes an NX job without its pool known.
      const poolFollow = followPools(ctx, pools);
      own(() => poolFollow.stop());
      await poolFollow.ready;
      for (const licenceClass of await listPools(q.kv)) pools.add(licenceClass);
      await mkdir(ctx.stagingDir, { recursive: true });
      const inbox = createInboxPublisher(ctx);
      follow = inbox.follow;
      flushInbox = inbox.flush;
      own(() => inbox.close());
      const resumed = await resumeClaims(ctx);
      const heartbeats = publishHeartbeats(ctx, instance);
      flushHeartbeat = heartbeats.flush;
      own(() => heartbeats.close());
      const submitters = followSubmitters(ctx);
      own(() => submitters.stop());
      await submitters.ready;
      const leases = keepLeases(ctx);
      own(() => leases.stop());
      if (!state.stopping) state.dispatch = startDispatch(ctx);
      // Housekeeping after dispatch is under way: none of it decides what this runner may start.
      const chore = (what: string, task: () => Promise<unknown>) => {
        if (state.stopping) return;
        state.chores = state.chores
          .then(async () => {
            await task();
          })
          .catch((error: unknown) => log(`${what} failed`, undefined, errorMessage(error)));
      };
      const republish = () =>
        chore("dispatch republish", async () => {
          const count = await republishQueued(ctx);
          if (count > 0) log("dispatch", undefined, `${count} queued job(s) announced again`);
        });
      chore("archive sweep", () => sweepArchived(ctx));
      chore("run record sweep", () => sweepRunRecords(ctx));
      republish();
      const timer = setInterval(() => {
        republish();
        chore("licence check", () => reconcileLicences(ctx));
      }, config.nats.republishS * 1000);
      own(() => clearInterval(timer));
      log(
        "nats",
        undefined,
        `bridge to ${config.nats.url}: ${resumed} claim(s) resumed, labels ${JSON.stringify(config.nats.labels)}, pools ${[...pools].join(", ") || "none"}, lease ${config.nats.leaseS} s`,
      );
    },
    quiesce() {
      state.stopping = true;
      state.dispatch?.stop();
    },
    async stop() {
      state.stopping = true;
      state.dispatch?.stop();
      await state.dispatch?.done;
      await state.chores;
      await flushInbox();
      await flushHeartbeat().catch((error: unknown) =>
        log("heartbeat publish failed", undefined, errorMessage(error)),
      );
      state.closed = true;
      for (const stop of state.stops.splice(0).reverse()) stop();
      await state.ctx?.serial.idle();
      await state.q?.close().catch(() => undefined);
    },
  };
}
