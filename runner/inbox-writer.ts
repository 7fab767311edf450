import { mkdir } from "node:fs/promises";
import type { Job, JobStatus, SigningKey } from "../protocol/index.ts";
import {
  jobOf,
  RECORD_SIGNATURE_FIELD,
  readJobAt,
  signRecord,
  transition,
  update,
  writeJob,
} from "../protocol/index.ts";
import { machineCondition } from "./fs-conditions.ts";
import type { RunnerPaths } from "./paths.ts";

/** Fields only a runner writes: a submitter's values for them are dropped before the first publish. */
const RUNNER_FIELDS = [
  "seq",
  "queued_at",
  "started_at",
  "finished_at",
  "heartbeat_at",
  "runner",
  "exit_code",
  "error",
  "progress",
  "results",
  RECORD_SIGNATURE_FIELD,
] as const;

/** The submitted job as the runner starts from it: status submitted, no runner fields. */
export function asSubmitted(job: Job): Job {
  const copy: Record<string, unknown> = { ...job, status: "submitted" };
  for (const field of RUNNER_FIELDS) delete copy[field];
  return copy as Job;
}

/** A job's first inbox view: its submitted form moved into `to` (seq 1). */
export function firstView(submitted: Job, to: JobStatus, patch: Partial<Job> = {}, now = new Date()): Job {
  return transition(asSubmitted(submitted), to, patch, now);
}

/**
 * The only writer of inbox/<job_id>/job.json. It keeps each job's last published view, so every write
 * goes through the protocol state machine and increments `seq`.
 */
export interface InboxWriter {
  current(jobId: string): Job | undefined;
  /** Takes a view written earlier (by this runner before a restart) as the base for the next write. */
  adopt(job: Job): void;
  /** Reads the published view back; undefined when missing or unreadable. */
  read(jobId: string): Promise<Job | undefined>;
  /** Reads the published view, telling a missing record from one that exists but cannot be read. */
  readRecord(jobId: string): Promise<{ job: Job } | { missing: true } | { unreadable: string }>;
  /** First write of a job, prepared with firstView() (so the ledger can record it before it is published). */
  publishNew(job: Job): Promise<Job>;
  transition(jobId: string, to: JobStatus, patch?: Partial<Job>): Promise<Job>;
  update(jobId: string, patch: Partial<Job>): Promise<Job>;
  /** Writes again every view whose last write failed (a full disk); the number still unwritten. */
  flush(): Promise<number>;
  /** True while the job's latest view is decided but its write failed (a full disk): flush() retries it. */
  unpublished(jobId: string): boolean;
  forget(jobId: string): void;
}

/**
 * The record as published: signed over its final content with the runner's key (docs/runner.md, "Signed
 * jobs"), or without any runner signature, so one left by an earlier, keyed start never vouches for
 * fields it did not cover.
 */
function sealed(job: Job, recordKey: SigningKey | undefined): Job {
  if (recordKey) return signRecord(job, recordKey);
  const copy: Record<string, unknown> = { ...job };
  delete copy[RECORD_SIGNATURE_FIELD];
  return copy as Job;
}

/** `recordKey`: the runner's own key; every record written here carries its signature. */
export function createInboxWriter(
  paths: RunnerPaths,
  now: () => Date = () => new Date(),
  recordKey?: SigningKey,
): InboxWriter {
  const views = new Map<string, Job>();
  const unwritten = new Set<string>();
  // The view is the runner's word the moment it is decided; the file is its publication. A write
  // that fails (full disk) keeps the view, so the next write or flush() publishes the latest state.
  // Every write passes here, so every record (heartbeats and the final one alike) is signed as written.
  const write = async (unsealed: Job): Promise<Job> => {
    const job = sealed(unsealed, recordKey);
    const dir = paths.inboxJob(job.job_id);
    try {
      await mkdir(dir, { recursive: true });
      await writeJob(dir, job);
    } catch (error) {
      // Only the machine's failure keeps the view; a job.json no reader would accept is never adopted.
      if (machineCondition(error)) {
        views.set(job.job_id, job);
        unwritten.add(job.job_id);
      }
      throw error;
    }
    views.set(job.job_id, job);
    unwritten.delete(job.job_id);
    return job;
  };
  const view = (jobId: string): Job => {
    const job = views.get(jobId);
    if (!job) throw new Error(`${jobId}: no published job.json to change (internal error)`);
    return job;
  };
  return {
    current: (jobId) => views.get(jobId),
    adopt: (job) => {
      views.set(job.job_id, job);
    },
    read: async (jobId) => jobOf(await readJobAt(paths.inboxJob(jobId))),
    async readRecord(jobId) {
      const read = await readJobAt(paths.inboxJob(jobId));
      if (read.kind === "ok") return { job: read.job };
      return read.kind === "absent" ? { missing: true } : { unreadable: read.problem };
    },
    publishNew: (job) => write(job),
    transition: (jobId, to, patch = {}) => write(transition(view(jobId), to, patch, now())),
    update: (jobId, patch) => write(update(view(jobId), patch)),
    async flush() {
      for (const jobId of [...unwritten]) {
        const job = views.get(jobId);
        if (job) await write(job).catch(() => undefined);
        else unwritten.delete(jobId);
      }
      return unwritten.size;
    },
    unpublished: (jobId) => unwritten.has(jobId),
    forget: (jobId) => {
      views.delete(jobId);
      unwritten.delete(jobId);
    },
  };
}
