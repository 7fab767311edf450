import type { KeyedSerial, Progress, RunnerInfo } from "../protocol/index.ts";
import type { ProcessIdentity } from "../protocol/process-identity.ts";
import type { GoneJob } from "./cleanup.ts";
import type { RunnerConfig } from "./config.ts";
import type { InboxWriter } from "./inbox-writer.ts";
import type { PendingJob } from "./job-intake.ts";
import type { Ledger } from "./ledger.ts";
import type { LicenceGate } from "./licence-gate.ts";
import type { Logger } from "./log.ts";
import type { RunnerPaths } from "./paths.ts";
import type { RunnerKeys } from "./runner-keys.ts";
import type { Scheduler } from "./slot-scheduler.ts";

/** Why the runner ended a run itself. */
export type StopReason = (
  | { kind: "timeout"; message: string }
  | { kind: "cancelled"; message: string }
  | { kind: "runner_restart"; message: string }
) & {
  /** When the runner decided it: a script that exited 0 before that still completed. */
  at?: string;
};

/** One job running under its supervisor, started or adopted by this runner. */
export interface ActiveRun {
  jobId: string;
  /** `<work>/.runs/<job_id>/`: the supervisor's request, identities and outcome. */
  dir: string;
  /** The script's process (from the supervisor's state file of the current attempt), once known. */
  script?: ProcessIdentity;
  supervisor?: ProcessIdentity;
  /** The run's wall-clock limit, counted from its start (ledgered, so it survives restarts). */
  limitS: number;
  /** When the run must end, in ms since the epoch. */
  deadlineMs: number;
  stopReason?: StopReason;
  /** True from startRun's first step until the run is launched and followed: a stop then waits for it. */
  starting?: boolean;
  /** Stops the watch on the run folder and the run's timers. */
  unfollow?: () => void;
  progress?: Progress;
  /** Size of stdout.log at its last publication. */
  publishedLogSize: number;
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
  /** The keys it trusts (none: unsigned jobs run) and its own record key, loaded at start. */
  keys: RunnerKeys;
  /** The licence check before an NX job starts (docs/runner.md, "NX licence"). */
  licence: LicenceGate;
  active: Map<string, ActiveRun>;
  pending: Map<string, PendingJob>;
  /** Names already logged as ignored, so a rescan does not repeat the line. */
  noted: Set<string>;
  /** Job ids whose archive/ folders intake has looked for (once per id: see intake-guards.ts). */
  archiveChecked: Set<string>;
  /** Finished jobs whose outbox entries are gone, until cleanup is done with them (cleanup.ts). */
  goneSince: Map<string, GoneJob>;
  startedAt: Date;
  now: () => Date;
  /** True once stop() began: no new run starts. */
  isStopping: () => boolean;
  /** Why no new job may be accepted right now (another runner is live on the queue), or undefined. */
  intakeBlocked: () => string | undefined;
  /** Starts queued jobs while slots are free. */
  pump: () => void;
}
