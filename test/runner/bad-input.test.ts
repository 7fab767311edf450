import { execFileSync } from "node:child_process";
import { mkdir, rm, symlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import type { FileEntry, Job } from "../../protocol/index.ts";
import { makeJobId, publishDirectory, writeJsonAtomic } from "../../protocol/index.ts";
import { createRunner } from "../../runner/runner-lifecycle.ts";
import type { TestQueue } from "./helpers/make-job.ts";
import { buildJobFiles, inboxJob, makeQueue, readText, submitJob, submittedJob } from "./helpers/make-job.ts";

interface BadCase {
  name: string;
  kind: "invalid_job" | "rejected";
  message: string;
  /** Changes the job folder and returns what job.json holds (an object, or raw text). */
  make: (dir: string, job: Job, manifest: FileEntry[]) => Promise<unknown>;
  /** Seed fields that must survive into the inbox job.json. */
  keeps?: Partial<Job>;
}

const entry = (manifest: FileEntry[]): FileEntry => manifest[0] as FileEntry;

const CASES: BadCase[] = [
  {
    name: "not json",
    kind: "invalid_job",
    message: "is not valid JSON",
    make: async () => "{ this is not json",
  },
  { name: "json array", kind: "invalid_job", message: "not a valid job", make: async () => [1, 2, 3] },
  {
    name: "missing script",
    kind: "invalid_job",
    message: "script",
    make: async (_d, job) => ({ ...job, script: undefined }),
    keeps: { project: "runner-tests", created_by: "study-builder" },
  },
  {
    name: "args a string",
    kind: "invalid_job",
    message: "args",
    make: async (_d, job) => ({ ...job, args: "--start" }),
  },
  {
    name: "bad sha256",
    kind: "invalid_job",
    message: "sha256",
    make: async (_d, job, m) => ({ ...job, files: [{ ...entry(m), sha256: "XYZ" }] }),
  },
  {
    name: "other job id",
    kind: "invalid_job",
    message: "but its folder is",
    make: async (_d, job) => ({ ...job, job_id: "job-20200101-000000-someone-else" }),
  },
  {
    name: "already completed",
    kind: "invalid_job",
    message: 'status "completed"',
    make: async (_d, job) => ({ ...job, status: "completed" }),
  },
  {
    name: "path escape",
    kind: "rejected",
    message: "[dot_segment]",
    make: async (_d, job, m) => ({ ...job, files: [...m, { ...entry(m), path: "../escape.py" }] }),
  },
  {
    name: "absolute path",
    kind: "rejected",
    message: "[absolute_path]",
    make: async (_d, job, m) => ({ ...job, files: [...m, { ...entry(m), path: "/etc/passwd" }] }),
  },
  {
    name: "windows reserved name",
    kind: "rejected",
    message: "[reserved_name]",
    make: async (_d, job, m) => ({ ...job, files: [...m, { ...entry(m), path: "1_setup/nul.txt" }] }),
  },
  {
    name: "case clash",
    kind: "rejected",
    message: "[case_clash]",
    make: async (_d, job, m) => ({ ...job, files: [...m, { ...entry(m), path: "Interleave.py" }] }),
  },
  {
    name: "script escape",
    kind: "rejected",
    message: "script",
    make: async (_d, job) => ({ ...job, script: "../interleave.py" }),
  },
  {
    name: "script not listed",
    kind: "rejected",
    message: "is not among the job's files",
    make: async (_d, job) => ({ ...job, script: "other.py" }),
  },
  {
    name: "shell script",
    kind: "rejected",
    message: "script type .sh is not supported",
    make: async (dir, job, m) => {
      await writeFile(path.join(dir, "run.sh"), "echo hi\n");
      return { ...job, script: "run.sh", files: [...m, { path: "run.sh", size: 8, sha256: "0".repeat(64) }] };
    },
  },
  {
    name: "batch file on posix",
    kind: "rejected",
    message: "Windows batch file",
    make: async (dir, job, m) => {
      await writeFile(path.join(dir, "run.bat"), "echo hi\r\n");
      return {
        ...job,
        script: "run.bat",
        files: [...m, { path: "run.bat", size: 9, sha256: "0".repeat(64) }],
      };
    },
  },
  {
    name: "symlinked file",
    kind: "rejected",
    message: "links and special files",
    make: async (dir, job) => {
      await symlink("/etc/hostname", path.join(dir, "link.txt"));
      return job;
    },
  },
  {
    name: "symlinked job json",
    kind: "rejected",
    message: "job.json is not a regular file",
    make: async (dir, job) => {
      const real = path.join(path.dirname(dir), `${path.basename(dir)}.real.json`);
      await writeFile(real, JSON.stringify(job));
      await symlink(real, path.join(dir, "job.json"));
      return undefined;
    },
  },
  {
    name: "folder listed as file",
    kind: "rejected",
    message: "links and special files",
    make: async (dir, job, m) => {
      await mkdir(path.join(dir, "1_setup"));
      return { ...job, files: [...m, { path: "1_setup", size: 0, sha256: "0".repeat(64) }] };
    },
  },
  {
    name: "fifo in folder",
    kind: "rejected",
    message: "links and special files",
    make: async (dir, job) => {
      execFileSync("mkfifo", [path.join(dir, "pipe")]);
      return job;
    },
  },
];

let queue: TestQueue;
const ids = new Map<string, string>();
let good = "";
let strayLogged = false;

beforeAll(async () => {
  queue = await makeQueue();
  const now = new Date();
  for (const [index, bad] of CASES.entries()) {
    const jobId = makeJobId(`bad input ${bad.name} case${String.fromCharCode(97 + index)}`, now);
    const staging = path.join(queue.base, "staging", jobId);
    const manifest = await buildJobFiles(staging, { name: "x", fixture: "interleave.py" });
    const content = await bad.make(
      staging,
      submittedJob(jobId, { name: "x", fixture: "interleave.py" }, manifest, now),
      manifest,
    );
    if (typeof content === "string") await writeFile(path.join(staging, "job.json"), content);
    else if (content !== undefined) await writeJsonAtomic(path.join(staging, "job.json"), content);
    await publishDirectory(staging, path.join(queue.paths.outbox, jobId));
    ids.set(bad.name, jobId);
  }
  await mkdir(path.join(queue.paths.outbox, "job-1"));
  await writeFile(path.join(queue.paths.outbox, "notes.txt"), "a stray file");
  good = await submitJob(queue, { name: "good job among bad", fixture: "interleave.py" });
  const lines: string[] = [];
  const runner = createRunner(
    {
      queueDir: queue.paths.root,
      workDir: queue.work,
      stateDir: queue.state,
      python: "python3",
      once: true,
      host: "test-host",
    },
    { log: (event, jobId, detail) => lines.push(`${jobId ?? "runner"} ${event} ${detail ?? ""}`) },
  );
  await runner.start();
  await runner.done;
  await runner.stop();
  strayLogged = lines.some((line) => line.includes("ignored") && line.includes('"job-1" is not a job id'));
});

afterAll(async () => {
  await queue.cleanup();
});

test.each(CASES)("$name fails that job alone with $kind", async (bad) => {
  const jobId = ids.get(bad.name) ?? "";
  const job = await inboxJob(queue, jobId);
  expect(job, `inbox job.json of ${jobId}`).toBeDefined();
  expect(job).toMatchObject({ job_id: jobId, status: "failed", seq: 1, error: { kind: bad.kind } });
  expect(job?.error?.message).toContain(bad.message);
  expect(job?.started_at).toBeUndefined();
  if (bad.keeps) expect(job).toMatchObject(bad.keeps);
  expect(await readText(path.join(queue.paths.inbox, jobId, "stdout.log"))).toBe("");
});

test("the good job among them runs, and folders that are not jobs are only logged", async () => {
  expect((await inboxJob(queue, good))?.status).toBe("completed");
  expect(strayLogged).toBe(true);
  await rm(path.join(queue.paths.outbox, "job-1"), { recursive: true });
});
