// Plays the runner: publishes jobs into inbox/ the way it does (result files first, job.json last).
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { Job } from "../../../protocol/index.ts";
import { buildManifest, LOG_FILE, queuePaths, writeJob, writeJsonAtomic } from "../../../protocol/index.ts";
import { sampleJob } from "../../helpers/sample-job.ts";

export const CHANNEL = "#starspec-m1-wfe";

export interface FinishedJob {
  jobId: string;
  status: "completed" | "failed" | "cancelled" | "running";
  /** Result files (paths relative to inbox/<id>/) with their content. */
  results?: Record<string, string>;
  /** Files listed in the manifest but not written yet: still syncing. */
  withheld?: readonly string[];
  notify?: { on_complete: boolean; on_fail: boolean };
  channel?: string;
  finishedAt?: Date;
  log?: string;
  error?: Job["error"];
}

export function baseJob(jobId: string, overrides: Partial<Job> = {}): Job {
  return sampleJob(jobId, { channel: CHANNEL, ...overrides });
}

/** Writes inbox/<id>/ as the runner would; withheld result files are listed but left out. */
export async function publishJob(queueDir: string, spec: FinishedJob): Promise<Job> {
  const jobDir = join(queuePaths(queueDir).inbox, spec.jobId);
  await mkdir(jobDir, { recursive: true });
  const results = { [LOG_FILE]: spec.log ?? "trial 1\ntrial 2\ndone\n", ...(spec.results ?? {}) };
  for (const [path, content] of Object.entries(results)) {
    const target = join(jobDir, ...path.split("/"));
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, content);
  }
  const manifest = await buildManifest(jobDir, Object.keys(results));
  for (const path of spec.withheld ?? []) {
    const { rm } = await import("node:fs/promises");
    await rm(join(jobDir, ...path.split("/")));
  }
  const finished = spec.finishedAt ?? new Date();
  const started = new Date(finished.getTime() - 2 * 3600_000 - 14 * 60_000);
  const terminal = spec.status !== "running";
  const job = baseJob(spec.jobId, {
    status: spec.status,
    seq: 9,
    queued_at: started.toISOString(),
    started_at: started.toISOString(),
    ...(terminal ? { finished_at: finished.toISOString() } : {}),
    runner: { host: "nx-ws-01", version: "1.0.0" },
    notify: spec.notify ?? { on_complete: true, on_fail: true },
    channel: spec.channel ?? CHANNEL,
    exit_code: spec.status === "completed" ? 0 : spec.status === "failed" ? 1 : null,
    progress: {
      source: "study.db",
      trials_planned: 150,
      trials_complete: 120,
      trials_failed: 3,
      best_value: 0.012345678,
      best_params: { r_inner: 1.25, thickness: 3.4 },
      best_trial: 87,
    },
    ...(spec.error ? { error: spec.error } : {}),
    ...(terminal ? { results: { files: manifest, published_at: finished.toISOString() } } : {}),
  });
  await writeJob(jobDir, job);
  return job;
}

/** Completes the files publishJob withheld (or only some of them), creating their folders as Syncthing does. */
export async function deliverWithheld(
  queueDir: string,
  spec: FinishedJob,
  only: readonly string[] = spec.withheld ?? [],
): Promise<void> {
  const jobDir = join(queuePaths(queueDir).inbox, spec.jobId);
  for (const path of only) {
    const content = spec.results?.[path] ?? "";
    const target = join(jobDir, ...path.split("/"));
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, content);
  }
}

/** What fetch_results writes when an agent got the complete results. */
export async function writeReceipt(queueDir: string, jobId: string, status: string): Promise<void> {
  const { fetchedDir } = queuePaths(queueDir);
  await mkdir(fetchedDir, { recursive: true });
  await writeJsonAtomic(join(fetchedDir, `${jobId}.json`), {
    job_id: jobId,
    fetched_at: new Date().toISOString(),
    fetched_by: "optimizer",
    status,
  });
}
