import { mkdir, readFile } from "node:fs/promises";
import path from "node:path";
import {
  errnoCode,
  JOB_FILE,
  pathExists,
  publishDirectory,
  removeTree,
  writeFileAtomic,
  writeJsonAtomic,
} from "../../protocol/index.ts";
import { CarriedFileSchema, jobKey, SubmissionRecordSchema } from "../../protocol/nats-layout.ts";
import { downloadTree } from "../../protocol/nats-objects.ts";
import { readRecord } from "../../protocol/nats-records.ts";
import type { BridgeContext } from "./bridge-context.ts";
import type { RunnerJobs } from "./runner-jobs.ts";

// The bridge plays the submitting side of the runner's local folder queue: it alone writes outbox/
// and outbox/.cancel/ there, and everything it publishes is written elsewhere and renamed in, so the
// runner's intake never sees half a job.

/** Writes outbox/.cancel/<id>.json with `text` unless it holds exactly that already. */
export async function writeLocalCancel(ctx: BridgeContext, jobId: string, text: string): Promise<void> {
  const target = ctx.paths.cancelRequest(jobId);
  const current = await readFile(target, "utf8").catch((error: unknown) => {
    if (errnoCode(error) === "ENOENT") return undefined;
    throw error;
  });
  if (current === text) return;
  await mkdir(ctx.paths.queue.cancelDir, { recursive: true });
  await writeFileAtomic(target, text);
}

/**
 * Without a runner in the process (a bridge alone, as the submitter tests run it) the one way to stop a
 * job is the folder protocol's: a cancel request, with the reason in it. Honoured by a runner without
 * --trust-key only; the runner's own RunnerJobs (runner-jobs.ts) is used whenever there is one.
 */
export function folderJobs(ctx: Pick<BridgeContext, "paths" | "host" | "now">): RunnerJobs {
  return {
    async stopJob(jobId, reason) {
      const target = ctx.paths.cancelRequest(jobId);
      if (await pathExists(target)) return "stopped";
      await mkdir(ctx.paths.queue.cancelDir, { recursive: true });
      await writeJsonAtomic(target, {
        job_id: jobId,
        requested_at: ctx.now().toISOString(),
        requested_by: `runner ${ctx.host}`,
        reason,
      });
      return "stopped";
    },
    // Only a runner can refuse a job: the download keeps being retried.
    failJob: async () => false,
  };
}

export type LocalOutcome = "ready" | "gone";

/**
 * Puts the submission of a claimed job into the local outbox: its files downloaded and verified into
 * .staging/<id>/, a cancel request already in KV copied first (so intake closes the job as cancelled
 * before it starts), job.json written last from the submission record, then one rename. "gone": the
 * submission was archived or retired meanwhile, there is nothing to run.
 */
export async function materialize(ctx: BridgeContext, jobId: string): Promise<LocalOutcome> {
  const target = ctx.paths.outboxJob(jobId);
  if (await pathExists(target)) return "ready";
  const sub = await readRecord(ctx.q.kv, jobKey(jobId, "sub"), SubmissionRecordSchema);
  if (!sub) return "gone";
  const cancel = await readRecord(ctx.q.kv, jobKey(jobId, "cancel"), CarriedFileSchema);
  if (cancel) await writeLocalCancel(ctx, jobId, cancel.value.text);
  const staging = path.join(ctx.stagingDir, jobId);
  await mkdir(staging, { recursive: true });
  // Files already downloaded by an attempt a crash cut short are kept when their sha256 matches.
  await downloadTree(ctx.q, sub.value.files, staging);
  await writeFileAtomic(path.join(staging, JOB_FILE), sub.value.job);
  await publishDirectory(staging, target);
  return "ready";
}

/**
 * Puts the submitted job.json alone into outbox/<id> for a job the runner refused because its files
 * could not be downloaded: the runner cleans a finished job up once its outbox entry is gone, so the
 * entry must be there until the submitter archives the job.
 */
export async function placeRefusedSubmission(
  ctx: BridgeContext,
  jobId: string,
  jobText: string,
): Promise<void> {
  const target = ctx.paths.outboxJob(jobId);
  if (await pathExists(target)) return;
  const staging = path.join(ctx.stagingDir, jobId);
  await removeTree(staging);
  await mkdir(staging, { recursive: true });
  await writeFileAtomic(path.join(staging, JOB_FILE), jobText);
  await publishDirectory(staging, target);
}

/**
 * Ends a held job whose files were refused `tries` times (an object missing, a sha256 that differs):
 * the runner refuses it as failed, as it does a transfer that never completes, and the inbox record
 * that makes is published and committed as any end. False when the runner had the job already.
 */
export async function failUndownloadable(
  ctx: BridgeContext,
  jobId: string,
  tries: number,
  error: unknown,
): Promise<boolean> {
  const sub = await readRecord(ctx.q.kv, jobKey(jobId, "sub"), SubmissionRecordSchema);
  if (!sub) return false;
  const message = `the job's files could not be downloaded from NATS, ${tries} tries (${error instanceof Error ? error.message : String(error)}); submit it again under a new job id`;
  const failed = await ctx.jobs.failJob(jobId, sub.value.job, { kind: "incomplete_transfer", message });
  if (!failed) return false;
  ctx.log("download given up", jobId, message);
  await placeRefusedSubmission(ctx, jobId, sub.value.job);
  return true;
}

/** The submission was archived: its local outbox entry goes, and the runner cleans up as it does today. */
export async function removeLocalSubmission(ctx: BridgeContext, jobId: string): Promise<boolean> {
  const target = ctx.paths.outboxJob(jobId);
  const present = await pathExists(target);
  if (present) await removeTree(target);
  await removeTree(ctx.paths.cancelRequest(jobId));
  await removeTree(path.join(ctx.stagingDir, jobId));
  return present;
}
