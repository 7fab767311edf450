import { ProtocolError } from "./errors.ts";
import type { Job, JobStatus, TerminalStatus } from "./job-schema.ts";
import { TERMINAL_STATUSES, TerminalStatusSchema } from "./job-schema.ts";

/**
 * Every allowed status change. `queued` means the runner verified every file and accepted the job;
 * `submitted|queued -> failed|cancelled` is a job rejected or cancelled before it ran.
 */
export const TRANSITIONS: Readonly<Record<JobStatus, readonly JobStatus[]>> = {
  submitted: ["queued", "failed", "cancelled"],
  queued: ["running", "failed", "cancelled"],
  running: ["completed", "failed", "cancelled"],
  completed: [],
  failed: [],
  cancelled: [],
};

export function isTerminal(status: JobStatus): status is TerminalStatus {
  return (TERMINAL_STATUSES as readonly JobStatus[]).includes(status);
}

/** The status as a terminal status, or undefined while the job is still live (or the text is no status). */
export function asTerminalStatus(status: string): TerminalStatus | undefined {
  const parsed = TerminalStatusSchema.safeParse(status);
  return parsed.success ? parsed.data : undefined;
}

export function canTransition(from: JobStatus, to: JobStatus): boolean {
  return TRANSITIONS[from].includes(to);
}

export function assertTransition(from: JobStatus, to: JobStatus, jobId = "job"): void {
  if (!canTransition(from, to)) {
    const allowed = TRANSITIONS[from];
    throw new ProtocolError(
      "invalid_transition",
      `${jobId}: cannot go from ${from} to ${to}; from ${from} a job may go to ` +
        `${allowed.length > 0 ? allowed.join(", ") : "nothing (it is final)"}`,
      { job_id: jobId, from, to },
    );
  }
}

/** The timestamp field each status sets when a job enters it. */
const ENTERED_AT: Partial<Record<JobStatus, "queued_at" | "started_at" | "finished_at">> = {
  queued: "queued_at",
  running: "started_at",
  completed: "finished_at",
  failed: "finished_at",
  cancelled: "finished_at",
};

/**
 * Returns the job in its new status with its entry timestamp set and `seq` incremented. Unknown fields
 * of `job` are kept, so a newer writer's additions survive.
 */
export function transition(job: Job, to: JobStatus, patch: Partial<Job> = {}, now = new Date()): Job {
  assertTransition(job.status, to, job.job_id);
  const stamp = ENTERED_AT[to];
  return {
    ...job,
    ...patch,
    status: to,
    ...(stamp ? { [stamp]: now.toISOString() } : {}),
    seq: (job.seq ?? 0) + 1,
  };
}

/** A same-status update (heartbeat, progress) that still bumps `seq` so watchers see a change. */
export function update(job: Job, patch: Partial<Job>): Job {
  if (patch.status !== undefined && patch.status !== job.status) {
    throw new ProtocolError("invalid_transition", `${job.job_id}: use transition() to change status`, {
      job_id: job.job_id,
    });
  }
  return { ...job, ...patch, seq: (job.seq ?? 0) + 1 };
}
