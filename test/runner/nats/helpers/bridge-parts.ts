// The bridge's parts on their own, against a real nats-server: a BridgeContext built by hand (no
// runner in the process; stops and refusals are recorded, not carried out), and a runner in the test's
// own process (createRunner with --nats settings), for knobs the CLI does not offer.
import path from "node:path";
import type { JobError } from "../../../../protocol/index.ts";
import { createKeyedSerial, initQueue } from "../../../../protocol/index.ts";
import type { NatsQueue } from "../../../../protocol/nats-connect.ts";
import type { RunnerConfigInput } from "../../../../runner/config.ts";
import { createLogger } from "../../../../runner/log.ts";
import type { NatsRunnerConfigInput } from "../../../../runner/nats/bridge-config.ts";
import { NatsRunnerSchema } from "../../../../runner/nats/bridge-config.ts";
import type { BridgeContext } from "../../../../runner/nats/bridge-context.ts";
import { createClaimBook } from "../../../../runner/nats/bridge-context.ts";
import type { StopOutcome } from "../../../../runner/nats/runner-jobs.ts";
import { runnerPaths } from "../../../../runner/paths.ts";
import type { Runner } from "../../../../runner/runner-lifecycle.ts";
import { createRunner } from "../../../../runner/runner-lifecycle.ts";
import { runnerFolders } from "./nats-runners.ts";

export interface HandContext {
  ctx: BridgeContext;
  lines: string[];
  stops: Array<{ jobId: string; reason: string }>;
  fails: Array<{ jobId: string; error: JobError }>;
}

export async function handContext(
  q: NatsQueue,
  base: string,
  host: string,
  nats: Partial<NatsRunnerConfigInput> = {},
): Promise<HandContext> {
  const folders = runnerFolders(base, host);
  await initQueue(folders.queue);
  const lines: string[] = [];
  const stops: HandContext["stops"] = [];
  const fails: HandContext["fails"] = [];
  const ctx: BridgeContext = {
    q,
    host,
    slots: 2,
    nxJobTypes: ["optimization"],
    signedOnly: false,
    nats: NatsRunnerSchema.parse({ url: "nats://unused", ...nats }),
    paths: runnerPaths(folders.queue, folders.work, folders.state),
    stagingDir: path.join(folders.queue, ".staging"),
    book: createClaimBook(),
    pools: new Set(),
    serial: createKeyedSerial(),
    log: createLogger({ write: (line: string) => lines.push(line) }),
    now: () => new Date(),
    isStopping: () => false,
    wake: () => {},
    follow: () => {},
    jobs: {
      stopJob: async (jobId, reason): Promise<StopOutcome> => {
        stops.push({ jobId, reason });
        return "stopping";
      },
      failJob: async (jobId, _text, error) => {
        fails.push({ jobId, error });
        return true;
      },
    },
    noted: new Set(),
  };
  return { ctx, lines, stops, fails };
}

export interface InProcessRunner {
  runner: Runner;
  lines: string[];
  output(): string;
  stop(): Promise<void>;
}

/** A runner with --nats in this process: python3, fast heartbeats and rescans, its own folders under base/host. */
export async function startInProcessRunner(spec: {
  url: string;
  base: string;
  host: string;
  nats?: Partial<NatsRunnerConfigInput>;
  config?: Partial<RunnerConfigInput>;
}): Promise<InProcessRunner> {
  const folders = runnerFolders(spec.base, spec.host);
  await initQueue(folders.queue);
  const lines: string[] = [];
  const runner = createRunner(
    {
      queueDir: folders.queue,
      workDir: folders.work,
      stateDir: folders.state,
      host: spec.host,
      python: "python3",
      heartbeatS: 0.3,
      rescanS: 0.3,
      killGraceS: 1,
      cleanupDelayS: 0,
      ...spec.config,
      nats: { url: spec.url, ...spec.nats },
    },
    { log: createLogger({ write: (line: string) => lines.push(line) }) },
  );
  await runner.start();
  return { runner, lines, output: () => lines.join(""), stop: () => runner.stop({ stopJobs: true }) };
}
