import type { Progress, RunnerInfo } from "../protocol/index.ts";
import type { RunnerConfig } from "./config.ts";
import type { InboxWriter } from "./inbox-writer.ts";
import type { PendingJob } from "./job-intake.ts";
import type { JobProcess } from "./job-process.ts";
import type { Ledger } from "./ledger.ts";
import type { Logger } from "./log.ts";
import type { RunnerPaths } from "./paths.ts";
import type { Scheduler } from "./scheduler.ts";
import type { KeyedSerial } from "./serial.ts";

/** Why the runner ended a run itself. */
export type StopReason =
  | { kind: "timeout"; message: string }
  | { kind: "cancelled"; message: string }
  | { kind: "runner_restart"; message: string };

/** One job whose process this runner started. */
export interface ActiveRun {
  jobId: string;
  process?: JobProcess;
  stopReason?: StopReason;
  progress?: Progress;
  /** Size of stdout.log at its last publication. */
  publishedLogSize: number;
  timeout?: NodeJS.Timeout;
  /** Set once the end is being published: heartbeats leave the job alone. */
  finishing: boolean;
  /** Resolves when the final job.json is published. */
  finished: Promise<void>;
  markFinished: () => void;
}

/** Everything the runner's parts share; passed around, never held in module state. */
export interface RunnerContext {
  config: RunnerConfig;
  paths: RunnerPaths;
  platform: NodeJS.Platform;
  ledger: Ledger;
  inbox: InboxWriter;
  scheduler: Scheduler;
  serial: KeyedSerial;
  log: Logger;
  runnerInfo: RunnerInfo;
  active: Map<string, ActiveRun>;
  pending: Map<string, PendingJob>;
  /** Names already logged as ignored, so a rescan does not repeat the line. */
  noted: Set<string>;
  goneSince: Map<string, number>;
  startedAt: Date;
  now: () => Date;
  /** True once stop() began: no new run starts. */
  isStopping: () => boolean;
  /** Starts queued jobs while slots are free. */
  pump: () => void;
}
