// The submitting side with keys, for the runner's signed-jobs tests: key pairs in a folder beside the
// queue (never inside it), jobs signed as the MCP server signs them, and the ways a job can be tampered
// with between signing and the runner.
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import path from "node:path";
import type { CancelRequest, Job, SigningKey } from "../../../protocol/index.ts";
import {
  buildManifest,
  generateKeyPairFiles,
  loadSigningKey,
  makeJobId,
  publishDirectory,
  signCancelRequest,
  signJob,
  writeJsonAtomic,
} from "../../../protocol/index.ts";
import type { JobSpec, TestQueue } from "./make-job.ts";
import { buildJobFiles, submittedJob } from "./make-job.ts";

export interface TestKey {
  key: SigningKey;
  /** The .pub file, as --trust-key takes it. */
  publicPath: string;
  privatePath: string;
}

/** A fresh key pair in `<base>/keys/`, outside the queue root. */
export async function makeKey(queue: TestQueue, name: string): Promise<TestKey> {
  const pair = await generateKeyPairFiles(path.join(queue.base, "keys"), name);
  return {
    key: await loadSigningKey(pair.privatePath),
    publicPath: pair.publicPath,
    privatePath: pair.privatePath,
  };
}

/** What a tamper step may change between signing and publishing: the staged folder and the job.json. */
export interface Staged {
  dir: string;
  job: Job & Record<string, unknown>;
}

/**
 * Builds the job, signs it with `key` (none: unsigned, as a job written straight into outbox/), lets
 * `tamper` change it, then publishes it whole into outbox/.
 */
export async function submitSignedJob(
  queue: TestQueue,
  spec: JobSpec,
  key: SigningKey | undefined,
  tamper?: (staged: Staged) => Promise<void> | void,
): Promise<string> {
  const createdAt = spec.createdAt ?? new Date();
  const jobId = makeJobId(spec.name, createdAt);
  const dir = path.join(queue.base, "staging", jobId);
  const manifest = await buildJobFiles(dir, spec);
  const plain = { ...submittedJob(jobId, spec, manifest, createdAt), ...spec.patch };
  const staged: Staged = { dir, job: key ? signJob({ ...plain, files: manifest }, key) : plain };
  await tamper?.(staged);
  await writeJsonAtomic(path.join(dir, "job.json"), staged.job);
  await publishDirectory(dir, path.join(queue.paths.outbox, jobId));
  return jobId;
}

/** After a file of the staged job changed: its manifest rebuilt to match, the signature kept. */
export async function rebuildManifest(staged: Staged): Promise<void> {
  const files = await buildManifest(staged.dir);
  staged.job.files = files.filter((file) => file.path !== "job.json");
}

/** A cancel request for `jobId` as the server writes it, signed with `key` (none: unsigned). */
export async function writeCancel(
  queue: TestQueue,
  jobId: string,
  key: SigningKey | undefined,
  patch: Partial<CancelRequest> = {},
): Promise<void> {
  await mkdir(queue.paths.cancelDir, { recursive: true });
  const request: CancelRequest = {
    job_id: jobId,
    requested_at: new Date().toISOString(),
    requested_by: "manager",
    reason: "changed my mind",
    ...patch,
  };
  await writeJsonAtomic(
    path.join(queue.paths.cancelDir, `${jobId}.json`),
    key ? signCancelRequest(request, key) : request,
  );
}

/** True when nothing of the job reached the work folder (no copy, no run). */
export function notCopied(queue: TestQueue, jobId: string): boolean {
  return !existsSync(path.join(queue.work, jobId)) && !existsSync(path.join(queue.work, ".runs", jobId));
}
