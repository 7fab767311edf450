import { lstat, mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import type { FileEntry, Job } from "../protocol/index.ts";
import {
  checkJobPath,
  checkJobPaths,
  describeManifestCheck,
  describeZodError,
  errnoCode,
  isJobId,
  isProtocolError,
  JOB_FILE,
  JobSchema,
  MAX_JOB_FILE_BYTES,
  parseJsonBytes,
  readRegularFileBytes,
  removeTree,
  verifyManifest,
  withFsRetry,
} from "../protocol/index.ts";
import { machineCondition } from "./fs-conditions.ts";
import { copyOrClean, copyVerified, promote, signatureOf, stagingFor, statAll } from "./intake-copy.ts";
import { examinePlain } from "./intake-plain.ts";
import type { IntakeContext, IntakeResult, PendingJob } from "./intake-result.ts";
import { reject, salvageJob, waitOrExpire } from "./intake-result.ts";
import { changedAfterSigning, checkJobTrust } from "./intake-trust.ts";
import { chooseInterpreter } from "./interpreter.ts";
import type { RunnerPaths } from "./paths.ts";
import { localPath } from "./paths.ts";

/** A message naming a file by its full local path, with the job folder left out (it means nothing to the submitter). */
function relativeMessage(message: string, dir: string): string {
  return message.split(`${dir}${path.sep}`).join("");
}

function scriptProblem(ctx: IntakeContext, job: Job): string | undefined {
  const violation = checkJobPath(job.script);
  if (violation) return `script ${violation.message}`;
  const choice = chooseInterpreter(localPath("job", job.script), job.args, {
    python: ctx.config.python,
    platform: ctx.platform,
  });
  return choice.ok ? undefined : choice.problem;
}

/**
 * Looks at outbox/<jobId>/ once and decides: wait, reject, cancel or accept. Acceptance leaves a verified
 * copy in <work>/<jobId>/; recording it in the ledger is the caller's job.
 */
export async function examineJob(ctx: IntakeContext, jobId: string): Promise<IntakeResult> {
  if (!isJobId(jobId)) return { kind: "ignore", reason: `${JSON.stringify(jobId)} is not a job id` };
  const dir = ctx.paths.outboxJob(jobId);
  let folder: Awaited<ReturnType<typeof lstat>>;
  try {
    folder = await lstat(dir);
  } catch (error) {
    if (errnoCode(error) === "ENOENT") {
      ctx.pending.delete(jobId);
      return { kind: "ignore", reason: "the job folder is gone" };
    }
    throw error;
  }
  if (folder.isSymbolicLink())
    return reject(
      salvageJob(undefined, jobId),
      "rejected",
      `outbox/${jobId} is a link; a job must be a real folder`,
    );
  if (!folder.isDirectory()) return { kind: "ignore", reason: `outbox/${jobId} is not a folder` };

  let state = ctx.pending.get(jobId);
  if (!state) {
    state = { firstSeenMs: ctx.nowMs(), changedAtMs: ctx.nowMs() };
    ctx.pending.set(jobId, state);
  }

  const jobPath = path.join(dir, JOB_FILE);
  let bytes: Buffer;
  try {
    // Opened as a regular file only (never a link or FIFO), at most MAX_JOB_FILE_BYTES.
    bytes = await withFsRetry(() => readRegularFileBytes(jobPath, MAX_JOB_FILE_BYTES));
  } catch (error) {
    const code = errnoCode(error);
    if (code === "ENOENT")
      return waitOrExpire(ctx, state, undefined, jobId, `${JOB_FILE} has not arrived`, [JOB_FILE]);
    if (isProtocolError(error) && error.code === "unsafe_file")
      return reject(
        salvageJob(undefined, jobId),
        "rejected",
        `${JOB_FILE} is not a regular file (${error.message}); write it as a plain file`,
      );
    if (isProtocolError(error))
      return reject(salvageJob(undefined, jobId), "invalid_job", relativeMessage(error.message, dir));
    if (machineCondition(error)) throw error;
    return reject(
      salvageJob(undefined, jobId),
      "invalid_job",
      `cannot read ${JOB_FILE}: ${code ?? (error as Error).message}`,
    );
  }

  let raw: unknown;
  try {
    // Strict UTF-8 (never U+FFFD), nesting bounded before JSON.parse: the submitter's own rules.
    raw = parseJsonBytes(bytes, JOB_FILE);
  } catch (error) {
    return reject(
      salvageJob(undefined, jobId),
      "invalid_job",
      `${(error as Error).message}; fix it and resubmit under a new job id`,
    );
  }
  const parsed = JobSchema.safeParse(raw);
  if (!parsed.success) {
    return reject(
      salvageJob(raw, jobId),
      "invalid_job",
      `${JOB_FILE} is not a valid job: ${describeZodError(parsed.error)}`,
    );
  }
  const job = parsed.data;
  if (job.job_id !== jobId) {
    return reject(
      salvageJob(raw, jobId),
      "invalid_job",
      `${JOB_FILE} says job_id ${JSON.stringify(job.job_id)} but its folder is ${jobId}; they must be equal`,
    );
  }
  if (job.status !== "submitted") {
    return reject(
      salvageJob(raw, jobId),
      "invalid_job",
      `${JOB_FILE} in outbox has status ${JSON.stringify(job.status)}; a submitted job must have status "submitted"`,
    );
  }
  // Before anything of it is copied, and before a cancel request is honoured for it.
  const untrusted = checkJobTrust(job, ctx.trusted);
  if (untrusted) return untrusted;
  if (await ctx.hasCancelRequest(jobId)) return { kind: "cancel", job };

  const problem = scriptProblem(ctx, job);
  if (problem) return reject(job, "rejected", problem);
  return job.files === undefined
    ? examinePlain(ctx, state, job, dir, bytes)
    : examineManifest(ctx, state, job, job.files, dir, bytes);
}

async function examineManifest(
  ctx: IntakeContext,
  state: PendingJob,
  job: Job,
  files: readonly FileEntry[],
  dir: string,
  jobBytes: Buffer,
): Promise<IntakeResult> {
  const paths = files.map((entry) => entry.path);
  const violations = checkJobPaths(paths);
  if (violations.length > 0) {
    return reject(
      job,
      "rejected",
      `job files break the path rules: ${violations.map((v) => `${v.message} [${v.rule}]`).join("; ")}`,
    );
  }
  if (!paths.includes(job.script)) {
    return reject(
      job,
      "rejected",
      `script ${JSON.stringify(job.script)} is not among the job's files; list it in files[]`,
    );
  }
  const check = await verifyManifest(dir, files, { sizesOnly: true });
  if (check.unsupported.length > 0 || check.not_a_file.length > 0) {
    return reject(
      job,
      "rejected",
      `links and special files are never job files: ${[...check.unsupported, ...check.not_a_file].join(", ")}`,
    );
  }
  const waiting = [
    ...check.missing,
    ...check.short.map((s) => s.path),
    ...check.oversized.map((s) => s.path),
    ...check.in_transit,
  ];
  if (!check.complete || check.in_transit.length > 0) {
    const reason =
      check.in_transit.length > 0 && check.complete
        ? `still arriving: ${check.in_transit.join(", ")}`
        : describeManifestCheck(check);
    return waitOrExpire(ctx, state, job, job.job_id, reason, [...new Set(waiting)]);
  }
  const signature = signatureOf(await statAll(dir, paths));
  if (state.mismatch?.signature === signature) {
    if (ctx.trusted.length > 0 && state.mismatch.paths.length > 0)
      return changedAfterSigning(job, state.mismatch.paths);
    return waitOrExpire(
      ctx,
      state,
      job,
      job.job_id,
      `content differs (sha256): ${state.mismatch.paths.join(", ")}`,
      state.mismatch.paths,
    );
  }
  const staging = stagingFor(ctx.paths, job.job_id);
  const outcome = await copyOrClean(staging, () =>
    copyVerified(dir, staging, paths, new Map(files.map((f) => [f.path, f]))),
  );
  if (!outcome.ok) {
    await removeTree(staging);
    if ("unreadable" in outcome) return reject(job, "rejected", `cannot read job file ${outcome.unreadable}`);
    const bad = [...outcome.mismatched, ...outcome.vanished];
    state.mismatch = { signature, paths: bad };
    const reason =
      outcome.mismatched.length > 0
        ? `content differs (sha256): ${outcome.mismatched.join(", ")}`
        : `vanished while copied: ${outcome.vanished.join(", ")}`;
    return waitOrExpire(ctx, state, job, job.job_id, reason, bad);
  }
  await copyOrClean(staging, async () => {
    // The job.json that was read and checked, not a second read that could differ.
    await writeFile(path.join(staging, JOB_FILE), jobBytes);
    await promote(ctx.paths, job.job_id, staging);
  });
  ctx.pending.delete(job.job_id);
  const notes = [];
  if (check.unexpected.length > 0)
    notes.push(`files not in the manifest, not copied: ${check.unexpected.join(", ")}`);
  if (check.conflicts.length > 0)
    notes.push(`Syncthing conflict copies in the job folder: ${check.conflicts.join(", ")}`);
  return { kind: "accept", job, notes };
}

/** Makes sure the staging area exists (it lives in the work folder, so promote() is a same-disk rename). */
export async function prepareWorkDir(paths: RunnerPaths): Promise<void> {
  await mkdir(path.join(paths.workDir, ".staging"), { recursive: true });
  await removeTree(path.join(paths.workDir, ".staging"));
  await mkdir(path.join(paths.workDir, ".staging"), { recursive: true });
}

export type { IntakeContext, IntakeResult, PendingJob } from "./intake-result.ts";
export { salvageJob } from "./intake-result.ts";
