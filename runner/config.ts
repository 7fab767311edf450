import { hostname } from "node:os";
import { z } from "zod";
import { NatsRunnerSchema } from "./nats/bridge-config.ts";

/** The Python that runs `.py` scripts when --python is not given: the Windows launcher name, else python3. */
export function defaultPython(platform: NodeJS.Platform = process.platform): string {
  return platform === "win32" ? "python" : "python3";
}

/** A host name usable as a file name on every OS (inbox/.runners/<host>.json). */
export function safeHostName(name: string = hostname()): string {
  const cleaned = name
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, "-")
    .replace(/^[-.]+|[-.]+$/g, "");
  return cleaned.length > 0 ? cleaned.slice(0, 63) : "runner";
}

const Seconds = z.number().positive();
/**
 * A period Node's setInterval/setTimeout holds: above 2^31-1 ms (24.8 days) they fire at once, every
 * millisecond. Refused here, with the reason, instead of a runner that spins.
 */
const PeriodSeconds = Seconds.max(
  2_147_483,
  "must be at most 2147483 s (24.8 days, the longest timer Node keeps)",
);

/** Every runner option with its default; durations are in seconds (fractions allowed, tests use ~0.5 s). */
export const RunnerConfigSchema = z.object({
  /** Queue root holding outbox/, inbox/, archive/. */
  queueDir: z.string().min(1),
  /** Local folder (outside the synced ones) holding one work copy per job. */
  workDir: z.string().min(1),
  /** Local folder (outside the synced ones) holding the ledger. */
  stateDir: z.string().min(1),
  /** Concurrent jobs: usually the number of NX licences. */
  slots: z.number().int().positive().default(1),
  python: z.string().min(1).default(defaultPython()),
  /** Handle what is there, wait for the runs to end, then exit. */
  once: z.boolean().default(false),
  host: z.string().min(1).default(safeHostName()),
  /** Rewrite period of running jobs' job.json and of the runner heartbeat. */
  heartbeatS: PeriodSeconds.default(10),
  /** Full outbox rescan period: the safety net behind the watches. */
  rescanS: PeriodSeconds.default(15),
  /**
   * Most job folders watched at once while their files arrive (docs/runner.md); a waiting job past
   * it is looked at by the rescan until a watch frees up. 0: every job waits for the rescan.
   */
  arrivalWatchLimit: z.number().int().nonnegative().default(16),
  /** How long a job may stay incomplete before it fails with incomplete_transfer. */
  graceS: Seconds.default(2 * 60 * 60),
  /** Quiet time before a plain SYS_19 job (no manifest) is taken as complete. */
  settleS: Seconds.default(60),
  /** Runner-wide maximum run time; a job's timeout_s can only shorten it. */
  maxRuntimeS: Seconds.default(7 * 24 * 60 * 60),
  /** Time between the polite stop (SIGTERM) and the hard kill of a job's process group on POSIX. */
  killGraceS: PeriodSeconds.default(10),
  /** How long a finished job's work copy is kept once its outbox entry is gone. */
  workRetentionS: z
    .number()
    .nonnegative()
    .default(7 * 24 * 60 * 60),
  /** How long an outbox entry must stay gone before the runner cleans the job up (a rename travels as delete + create). */
  cleanupDelayS: z.number().nonnegative().default(60),
  /** Take jobs even while another runner's heartbeat is live on the queue (both could run one job). */
  allowOtherRunners: z.boolean().default(false),
  /** Job types that start NX: they wait queued while no licence server answers (docs/runner.md). */
  nxJobTypes: z.array(z.string().min(1)).default(["optimization"]),
  /** The licence servers (`port@host;...`); unset: SPLM_LICENSE_SERVER of the runner's environment. */
  licenceServer: z.string().min(1).optional(),
  /** How often a runner whose licence server is down knocks on its port again. */
  licencePollS: PeriodSeconds.default(5),
  /**
   * Public key files of the submitters (docs/runner.md, "Signed jobs"): with any, only jobs signed by
   * one of them run. Paths only: the keys are loaded at start, into the runner's context.
   */
  trustKeys: z.array(z.string().min(1)).default([]),
  /** The runner's own private key file: it signs every inbox job.json (`runner_signature`). */
  signingKey: z.string().min(1).optional(),
  /** Lines of stdout.log put into error.log_tail. */
  logTailLines: z.number().int().positive().default(30),
  /** `--nats`: take jobs from NATS JetStream through the local queue at queueDir (runner/nats/bridge.ts). */
  nats: NatsRunnerSchema.optional(),
});

export type RunnerConfig = z.infer<typeof RunnerConfigSchema>;
export type RunnerConfigInput = z.input<typeof RunnerConfigSchema>;
