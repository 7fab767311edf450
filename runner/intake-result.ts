import type { Job, JobError, TrustedKey } from "../protocol/index.ts";
import { JobSchema, parseJobId } from "../protocol/index.ts";
import type { RunnerConfig } from "./config.ts";
import type { RunnerPaths } from "./paths.ts";

/** What the runner should do with an outbox folder right now. */
export type IntakeResult =
  /** Not a job (yet): a folder that vanished, a stray file. */
  | { kind: "ignore"; reason: string }
  /** Not complete yet: look again on the next change or rescan. */
  | { kind: "wait"; reason: string }
  /** Fail it without running. `job` is the best job that could be formed from its job.json. */
  | { kind: "reject"; job: Job; error: JobError }
  /** A cancel request arrived before the job was accepted. */
  | { kind: "cancel"; job: Job }
  /** Verified and copied to its work folder. `job.files` is its manifest (built here for a plain SYS_19 job). */
  | { kind: "accept"; job: Job; notes: string[] };

/** What intake remembers between looks at a job it has not accepted yet. */
export interface PendingJob {
  firstSeenMs: number;
  /** Sizes and times of the job's files at the last look, to spot changes. */
  signature?: string;
  changedAtMs: number;
  /** Files whose content did not match at the last full check, and the signature they had then. */
  mismatch?: { signature: string; paths: string[] };
  lastReason?: string;
}

export interface IntakeContext {
  paths: RunnerPaths;
  config: Pick<RunnerConfig, "graceS" | "settleS" | "python">;
  platform: NodeJS.Platform;
  pending: Map<string, PendingJob>;
  /** The submitters' keys the runner trusts; with any, only jobs signed by one of them are taken. */
  trusted: readonly TrustedKey[];
  /** Whether a cancel request counts for the job (with trusted keys: only a signed one). */
  hasCancelRequest: (jobId: string) => Promise<boolean>;
  nowMs: () => number;
}

type Seed = Pick<Job, "created_by" | "project" | "channel" | "type" | "script" | "args" | "notify">;
const SEED_DEFAULTS: Seed = {
  created_by: "unknown",
  project: "unknown",
  channel: "",
  type: "optimization",
  script: "unknown",
  args: [],
  notify: { on_complete: false, on_fail: true },
};

/**
 * A valid job for a folder whose job.json is broken, so the submitter still gets an inbox job.json
 * saying why: every seed field that is readable and valid is kept, the rest are placeholders.
 */
export function salvageJob(raw: unknown, jobId: string): Job {
  const source =
    typeof raw === "object" && raw !== null && !Array.isArray(raw) ? (raw as Record<string, unknown>) : {};
  const seed: Record<string, unknown> = {};
  for (const [field, fallback] of Object.entries(SEED_DEFAULTS)) {
    const schema = JobSchema.shape[field as keyof Seed];
    seed[field] = schema.safeParse(source[field]).success ? source[field] : fallback;
  }
  const createdAt = JobSchema.shape.created_at.safeParse(source.created_at);
  return {
    ...(seed as Seed),
    job_id: jobId,
    created_at: createdAt.success ? createdAt.data : parseJobId(jobId).created_at.toISOString(),
    status: "submitted",
  };
}

export function reject(
  job: Job,
  kind: JobError["kind"],
  message: string,
  extra: Partial<JobError> = {},
): IntakeResult {
  return { kind: "reject", job, error: { kind, message, ...extra } };
}

/** Waits, or fails the job once it has waited longer than the grace period. */
export function waitOrExpire(
  ctx: IntakeContext,
  state: PendingJob,
  job: Job | undefined,
  jobId: string,
  reason: string,
  missing: string[],
): IntakeResult {
  state.lastReason = reason;
  const waitedS = (ctx.nowMs() - state.firstSeenMs) / 1000;
  if (waitedS < ctx.config.graceS) return { kind: "wait", reason };
  return reject(
    job ?? salvageJob(undefined, jobId),
    "incomplete_transfer",
    `the job's files did not all arrive within ${Math.round(ctx.config.graceS)} s (${reason}); check Syncthing on both sides, then resubmit`,
    { missing_files: missing },
  );
}
