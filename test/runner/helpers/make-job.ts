import { copyFile, mkdir, mkdtemp, readFile, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { FileEntry, Job, JobStatus, QueuePaths } from "../../../protocol/index.ts";
import {
  buildManifest,
  initQueue,
  JobSchema,
  makeJobId,
  publishDirectory,
  readJob,
  SCHEMA_VERSION,
  writeJsonAtomic,
} from "../../../protocol/index.ts";

export const FIXTURES = fileURLToPath(new URL("../fixtures/", import.meta.url));

export interface TestQueue {
  base: string;
  paths: QueuePaths;
  work: string;
  state: string;
  /** Outside the queue: where test scripts leave run counters and pid files. */
  scratch: string;
  cleanup(): Promise<void>;
}

export async function makeQueue(): Promise<TestQueue> {
  const base = await mkdtemp(path.join(tmpdir(), "atomizer-runner-"));
  const paths = await initQueue(path.join(base, "queue"));
  const scratch = path.join(base, "scratch");
  await mkdir(scratch);
  await mkdir(path.join(base, "staging"));
  return {
    base,
    paths,
    work: path.join(base, "work"),
    state: path.join(base, "state"),
    scratch,
    cleanup: () => rm(base, { recursive: true, force: true, maxRetries: 5 }),
  };
}

/** `--queue --work --state` for this queue, as the runner and doctor commands take them. */
export function folderArgs(queue: TestQueue): string[] {
  return ["--queue", queue.paths.root, "--work", queue.work, "--state", queue.state];
}

export interface JobSpec {
  /** Descriptive name; the job id is job-<now>-<slug of name>. */
  name: string;
  /** A fixture file name (test/runner/fixtures/) copied in as the script. */
  fixture: string;
  args?: string[];
  /** Extra job files, job-relative POSIX path -> content. */
  files?: Record<string, string | Uint8Array>;
  timeout_s?: number;
  /** Fields merged into job.json after it is built (to make bad ones). */
  patch?: Record<string, unknown>;
  createdAt?: Date;
}

/** The job.json a protocol-v1 submitter writes for `files` (its manifest) and `spec`. */
export function submittedJob(
  jobId: string,
  spec: JobSpec,
  files: FileEntry[] | undefined,
  createdAt: Date,
): Job {
  return JobSchema.parse({
    job_id: jobId,
    created_at: createdAt.toISOString(),
    created_by: "study-builder",
    project: "runner-tests",
    channel: "#runner-tests",
    type: "optimization",
    script: spec.fixture,
    args: spec.args ?? [],
    status: "submitted",
    notify: { on_complete: true, on_fail: true },
    ...(files ? { schema_version: SCHEMA_VERSION, files } : {}),
    ...(spec.timeout_s ? { timeout_s: spec.timeout_s } : {}),
  });
}

/** Builds a job folder in `dir` (not published): script, extra files, no job.json yet. Returns its manifest. */
export async function buildJobFiles(dir: string, spec: JobSpec): Promise<FileEntry[]> {
  await mkdir(dir, { recursive: true });
  await copyFile(path.join(FIXTURES, spec.fixture), path.join(dir, spec.fixture));
  for (const [relative, content] of Object.entries(spec.files ?? {})) {
    const target = path.join(dir, ...relative.split("/"));
    await mkdir(path.dirname(target), { recursive: true });
    await writeFile(target, content);
  }
  return buildManifest(dir);
}

/** Plays the submitting side: assembles the job in staging, then renames it into outbox/ whole. */
export async function submitJob(queue: TestQueue, spec: JobSpec): Promise<string> {
  const createdAt = spec.createdAt ?? new Date();
  const jobId = makeJobId(spec.name, createdAt);
  const staging = path.join(queue.base, "staging", jobId);
  const manifest = await buildJobFiles(staging, spec);
  await writeJsonAtomic(path.join(staging, "job.json"), {
    ...submittedJob(jobId, spec, manifest, createdAt),
    ...spec.patch,
  });
  await publishDirectory(staging, path.join(queue.paths.outbox, jobId));
  return jobId;
}

/** Writes a cancel request as the submitting side does. */
export async function requestCancel(
  queue: TestQueue,
  jobId: string,
  reason = "changed my mind",
): Promise<void> {
  await mkdir(queue.paths.cancelDir, { recursive: true });
  await writeJsonAtomic(path.join(queue.paths.cancelDir, `${jobId}.json`), {
    job_id: jobId,
    requested_at: new Date().toISOString(),
    requested_by: "manager",
    reason,
  });
}

/** Delivers a file the way Syncthing does: a full-size .syncthing.NAME.tmp beside it, then a rename. */
export async function deliverLikeSyncthing(target: string, content: string | Uint8Array): Promise<void> {
  await mkdir(path.dirname(target), { recursive: true });
  const temp = path.join(path.dirname(target), `.syncthing.${path.basename(target)}.tmp`);
  await writeFile(temp, content);
  await rename(temp, target);
}

/** Polls `probe` until it returns a value; fails with `what` after `timeoutMs`. */
export async function waitFor<T>(
  what: string | (() => string),
  probe: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline)
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${typeof what === "string" ? what : what()}`,
      );
    await new Promise((resolve) => setTimeout(resolve, 40));
  }
}

export async function inboxJob(queue: TestQueue, jobId: string): Promise<Job | undefined> {
  try {
    return await readJob(path.join(queue.paths.inbox, jobId));
  } catch {
    return undefined;
  }
}

/** Waits until inbox/<id>/job.json has one of `statuses`. */
export function waitForStatus(
  queue: TestQueue,
  jobId: string,
  statuses: JobStatus[],
  timeoutMs = 30_000,
): Promise<Job> {
  return waitFor(
    `${jobId} to reach ${statuses.join("/")}`,
    async () => {
      const job = await inboxJob(queue, jobId);
      return job && statuses.includes(job.status) ? job : undefined;
    },
    timeoutMs,
  );
}

export async function readText(file: string): Promise<string> {
  return readFile(file, "utf8").catch(() => "");
}

/** The non-empty lines of a text file (none when it does not exist yet). */
export async function readLines(file: string): Promise<string[]> {
  return (await readText(file)).split("\n").filter((l) => l !== "");
}
