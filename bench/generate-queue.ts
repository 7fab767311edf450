import { createHash } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Job, QueuePaths } from "../protocol/index.ts";
import { initQueue, JOB_FILE, LOG_FILE, SCHEMA_VERSION } from "../protocol/index.ts";

/**
 * "mixed": a third submitted (outbox only), a third seen by the runner (outbox + inbox: queued, running,
 * completed or failed), a third archived. "idle": what a queue looks like when the runner has nothing to
 * do: every outbox job finished (and in the runner's ledger), a third archived.
 */
export type QueueMix = "mixed" | "idle";

export interface GeneratedQueue {
  paths: QueuePaths;
  ids: string[];
  /** State each job's files prove, as the server should report it. */
  states: Map<string, string>;
}

const PROJECTS = ["starspec-m1-wfe", "starspec-m2-mount", "lidar-bracket", "cubesat-panel", "optical-bench"];
const AGENTS = ["atlas", "hermes", "iris", "nova"];
const HOST = "nx-workstation";
const WRITE_CONCURRENCY = 64;

function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

function stamp(at: Date): string {
  return at
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d{3}Z$/, "");
}

function iso(at: Date): string {
  return at.toISOString().replace(/\.\d{3}Z$/, "Z");
}

async function pool<T>(items: readonly T[], work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(WRITE_CONCURRENCY, items.length) }, async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await work(item);
    }
  });
  await Promise.all(lanes);
}

async function writeJson(dir: string, name: string, value: unknown): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, name), `${JSON.stringify(value, null, 2)}\n`);
}

interface Plan {
  index: number;
  jobId: string;
  submitted: Job;
  created: Date;
  where: "outbox" | "inbox" | "archive";
  status: "queued" | "running" | "completed" | "failed";
}

function planJob(index: number, mix: QueueMix, base: Date): Plan {
  // Newest first by index; 7 minutes apart keeps ids unique and their timestamps plausible.
  const created = new Date(base.getTime() - index * 7 * 60 * 1000);
  const project = PROJECTS[index % PROJECTS.length] as string;
  const jobId = `job-${stamp(created).replace("T", "-")}-${project}-${index}`;
  const script = "run_optimization.py";
  const files = [
    { path: "README.md", size: 412, sha256: sha256(`readme ${index}`) },
    { path: "1_setup/m1_mirror_sim1.fem", size: 48_000_000 + index, sha256: sha256(`fem ${index}`) },
    { path: script, size: 3120, sha256: sha256(`script ${index}`) },
  ];
  const submitted: Job = {
    job_id: jobId,
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
    files,
    timeout_s: 86_400,
  };
  const third = index % 3;
  const where: Plan["where"] =
    mix === "mixed"
      ? third === 0
        ? "outbox"
        : third === 1
          ? "inbox"
          : "archive"
      : third === 2
        ? "archive"
        : "inbox";
  const cycle = Math.floor(index / 3) % 10;
  const status =
    mix === "idle"
      ? cycle < 8
        ? "completed"
        : "failed"
      : cycle === 0
        ? "queued"
        : cycle === 1
          ? "running"
          : cycle < 8
            ? "completed"
            : "failed";
  return { index, jobId, submitted, created, where, status };
}

/** The runner's inbox job.json for a plan, with its stdout.log text when it has one. */
function runnerView(plan: Plan): { job: Job; log?: string } {
  const { created, status } = plan;
  const queuedAt = new Date(created.getTime() + 30_000);
  const startedAt = new Date(created.getTime() + 60_000);
  const finishedAt = new Date(created.getTime() + 5 * 60_000);
  const runner = { host: HOST, version: "0.1.0", heartbeat_s: 10 };
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

function ledgerLines(plan: Plan, job: Job): string[] {
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

/**
 * Writes `count` realistic jobs straight to disk (job.json, stdout.log, results manifests, archive
 * folders, a runner heartbeat), much faster than submitting them. With `stateDir` it also writes the
 * runner's ledger, so a real runner started on the queue knows every job and has nothing to do.
 */
export async function generateQueue(
  root: string,
  count: number,
  mix: QueueMix,
  stateDir?: string,
): Promise<GeneratedQueue> {
  const paths = await initQueue(root);
  const base = new Date(Date.UTC(2026, 4, 20, 12, 0, 0));
  const plans = Array.from({ length: count }, (_, index) => planJob(index, mix, base));
  const states = new Map<string, string>();
  const ledger: string[] = [];
  await pool(plans, async (plan) => {
    if (plan.where === "outbox") {
      await writeJson(join(paths.outbox, plan.jobId), JOB_FILE, plan.submitted);
      states.set(plan.jobId, "submitted");
      return;
    }
    const { job, log } = runnerView(plan);
    ledger.push(...ledgerLines(plan, job));
    if (plan.where === "archive") {
      const archivedAt = new Date(plan.created.getTime() + 24 * 3600 * 1000);
      const dir = join(paths.archive, `${plan.jobId}-${stamp(archivedAt)}Z`);
      await writeJson(dir, JOB_FILE, job);
      if (log !== undefined) await writeFile(join(dir, LOG_FILE), log);
      states.set(plan.jobId, "archived");
      return;
    }
    await writeJson(join(paths.outbox, plan.jobId), JOB_FILE, plan.submitted);
    const inbox = join(paths.inbox, plan.jobId);
    await writeJson(inbox, JOB_FILE, job);
    if (log !== undefined) await writeFile(join(inbox, LOG_FILE), log);
    states.set(plan.jobId, job.status);
  });
  const now = new Date().toISOString();
  await writeJson(paths.runnersDir, `${HOST}.json`, {
    host: HOST,
    version: "0.1.0",
    pid: 4242,
    slots: 1,
    running: [],
    queued: [],
    started_at: now,
    last_seen: now,
    interval_s: 10,
  });
  if (stateDir !== undefined) {
    await mkdir(stateDir, { recursive: true });
    await writeFile(join(stateDir, "ledger.jsonl"), ledger.length > 0 ? `${ledger.join("\n")}\n` : "");
  }
  return { paths, ids: plans.map((plan) => plan.jobId), states };
}
