import { createHash } from "node:crypto";
import type { Job } from "../protocol/index.ts";
import { LOG_FILE, SCHEMA_VERSION } from "../protocol/index.ts";

/**
 * "mixed": a third submitted (outbox only), a third seen by the runner (outbox + inbox: queued, running,
 * completed or failed), a third archived. "idle": what a queue looks like when the runner has nothing to
 * do: every outbox job finished (and in the runner's ledger), a third archived.
 */
export type QueueMix = "mixed" | "idle";

const PROJECTS = ["starspec-m1-wfe", "starspec-m2-mount", "lidar-bracket", "cubesat-panel", "optical-bench"];
const AGENTS = ["atlas", "hermes", "iris", "nova"];
export const GENERATED_HOST = "nx-workstation";
const BASE_MS = Date.UTC(2026, 4, 20, 12, 0, 0);
/** 7 minutes apart keeps ids unique and their timestamps plausible; newest first by index. */
const STEP_MS = 7 * 60 * 1000;

function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

export function stamp(at: Date): string {
  return at
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d{3}Z$/, "");
}

function iso(at: Date): string {
  return at.toISOString().replace(/\.\d{3}Z$/, "Z");
}

export interface Plan {
  index: number;
  jobId: string;
  submitted: Job;
  created: Date;
  where: "outbox" | "inbox" | "archive";
  status: "queued" | "running" | "completed" | "failed";
}

/** The id of the job at `index` in every generated queue, whatever its mix: benchmarks pick ids without a listing. */
export function queueJobId(index: number): string {
  const created = new Date(BASE_MS - index * STEP_MS);
  return `job-${stamp(created).replace("T", "-")}-${PROJECTS[index % PROJECTS.length]}-${index}`;
}

function placeOf(index: number, mix: QueueMix): Plan["where"] {
  const third = index % 3;
  if (mix === "idle") return third === 2 ? "archive" : "inbox";
  return third === 0 ? "outbox" : third === 1 ? "inbox" : "archive";
}

function statusOf(index: number, mix: QueueMix): Plan["status"] {
  const cycle = Math.floor(index / 3) % 10;
  if (mix === "idle") return cycle < 8 ? "completed" : "failed";
  return cycle === 0 ? "queued" : cycle === 1 ? "running" : cycle < 8 ? "completed" : "failed";
}

export function planJob(index: number, mix: QueueMix): Plan {
  const created = new Date(BASE_MS - index * STEP_MS);
  const project = PROJECTS[index % PROJECTS.length] as string;
  const script = "run_optimization.py";
  const submitted: Job = {
    job_id: queueJobId(index),
    created_at: iso(created),
    created_by: AGENTS[index % AGENTS.length] as string,
    project,
    channel: `#${project}`,
    type: "optimization",
    script,
    args: ["--trials", "200"],
    status: "submitted",
    notify: { on_complete: true, on_fail: true },
    schema_version: SCHEMA_VERSION,
    files: [
      { path: "README.md", size: 412, sha256: sha256(`readme ${index}`) },
      { path: "1_setup/m1_mirror_sim1.fem", size: 48_000_000 + index, sha256: sha256(`fem ${index}`) },
      { path: script, size: 3120, sha256: sha256(`script ${index}`) },
    ],
    timeout_s: 86_400,
  };
  const where = placeOf(index, mix);
  return { index, jobId: submitted.job_id, submitted, created, where, status: statusOf(index, mix) };
}

/** The runner's inbox job.json for a plan, with its stdout.log text when it has one. */
export function runnerView(plan: Plan): { job: Job; log?: string } {
  const { created, status } = plan;
  const queuedAt = new Date(created.getTime() + 30_000);
  const startedAt = new Date(created.getTime() + 60_000);
  const finishedAt = new Date(created.getTime() + 5 * 60_000);
  const runner = { host: GENERATED_HOST, version: "0.1.0", heartbeat_s: 10 };
  const job: Job = { ...plan.submitted, status, seq: 1, queued_at: iso(queuedAt), runner };
  if (status === "queued") return { job };
  const log = `[I] trial ${plan.index} started\n[I] Trial 0 finished with value: 0.042\n`;
  job.seq = status === "running" ? 14 : 31;
  job.started_at = iso(startedAt);
  job.heartbeat_at = iso(status === "running" ? startedAt : finishedAt);
  job.progress = {
    source: "study.db",
    trials_planned: 200,
    trials_complete: status === "running" ? 57 : 200,
    trials_pruned: 12,
    trials_failed: status === "failed" ? 1 : 0,
    trials_running: status === "running" ? 1 : 0,
    best_value: 0.0123 + (plan.index % 97) / 1000,
    best_params: { thickness_mm: 6.5, rib_angle_deg: 42 },
    best_trial: 143,
    updated_at: job.heartbeat_at,
  };
  if (status === "running") return { job, log };
  job.finished_at = iso(finishedAt);
  job.exit_code = status === "completed" ? 0 : 1;
  if (status === "failed") {
    job.error = {
      kind: "exit_code",
      message: "the script exited with code 1; see log_tail and stdout.log",
      log_tail: ["Traceback (most recent call last):", "RuntimeError: NX license unavailable"],
    };
  }
  job.results = {
    files: [{ path: LOG_FILE, size: Buffer.byteLength(log), sha256: sha256(log) }],
    published_at: iso(finishedAt),
  };
  return { job, log };
}

/** The archive folder name of a plan: archived a day after it was created. */
export function archiveName(plan: Plan): string {
  return `${plan.jobId}-${stamp(new Date(plan.created.getTime() + 24 * 3600 * 1000))}Z`;
}

/** The runner's ledger records for a job it has seen, as JSON lines. */
export function ledgerLines(plan: Plan, job: Job): string[] {
  const at = (field: string | undefined) => field ?? plan.submitted.created_at;
  const lines: unknown[] = [
    { event: "accepted", job_id: plan.jobId, at: at(job.queued_at), job: { ...job, status: "queued" } },
  ];
  if (job.started_at) lines.push({ event: "started", job_id: plan.jobId, at: job.started_at });
  if (job.finished_at && (job.status === "completed" || job.status === "failed")) {
    lines.push({ event: "finished", job_id: plan.jobId, at: job.finished_at, status: job.status });
  }
  // Archived long ago: the runner has already removed its inbox entry and work copy.
  if (plan.where === "archive") lines.push({ event: "cleaned", job_id: plan.jobId, at: at(job.finished_at) });
  return lines.map((line) => JSON.stringify(line));
}
