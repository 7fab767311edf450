import { randomBytes } from "node:crypto";
import { copyFile, lstat, mkdir, readFile, rename } from "node:fs/promises";
import path from "node:path";
import type { FileEntry, Job, JobError } from "../protocol/index.ts";
import {
  checkJobPath,
  checkJobPaths,
  copyAndHashFile,
  describeManifestCheck,
  describeZodError,
  errnoCode,
  isJobId,
  JOB_FILE,
  JobSchema,
  listJobTree,
  parseJobId,
  removeTree,
  verifyManifest,
  withFsRetry,
} from "../protocol/index.ts";
import type { RunnerConfig } from "./config.ts";
import { machineCondition } from "./fs-conditions.ts";
import { chooseInterpreter } from "./interpreter.ts";
import type { RunnerPaths } from "./paths.ts";
import { localPath } from "./paths.ts";

/** What the runner should do with an outbox folder right now. */
export type IntakeResult =
  /** Not a job (yet): a folder that vanished, a stray file. */
  | { kind: "ignore"; reason: string }
  /** Not complete yet: look again on the next change or rescan. */
  | { kind: "wait"; reason: string }
  /** Fail it without running. `job` is the best job that could be formed from its job.json. */
  | { kind: "reject"; job: Job; error: JobError }
  /** A cancel request arrived before the job was accepted. */
  | { kind: "cancel"; job: Job }
  /** Verified and copied to its work folder. `job.files` is its manifest (built here for a plain SYS_19 job). */
  | { kind: "accept"; job: Job; notes: string[] };

/** What intake remembers between looks at a job it has not accepted yet. */
export interface PendingJob {
  firstSeenMs: number;
  /** Sizes and times of the job's files at the last look, to spot changes. */
  signature?: string;
  changedAtMs: number;
  /** Files whose content did not match at the last full check, and the signature they had then. */
  mismatch?: { signature: string; paths: string[] };
  lastReason?: string;
}

export interface IntakeContext {
  paths: RunnerPaths;
  config: Pick<RunnerConfig, "graceS" | "settleS" | "python">;
  platform: NodeJS.Platform;
  pending: Map<string, PendingJob>;
  hasCancelRequest: (jobId: string) => Promise<boolean>;
  nowMs: () => number;
}

type Seed = Pick<Job, "created_by" | "project" | "channel" | "type" | "script" | "args" | "notify">;
const SEED_DEFAULTS: Seed = {
  created_by: "unknown",
  project: "unknown",
  channel: "",
  type: "optimization",
  script: "unknown",
  args: [],
  notify: { on_complete: false, on_fail: true },
};

/**
 * A valid job for a folder whose job.json is broken, so the submitter still gets an inbox job.json
 * saying why: every seed field that is readable and valid is kept, the rest are placeholders.
 */
export function salvageJob(raw: unknown, jobId: string): Job {
  const source =
    typeof raw === "object" && raw !== null && !Array.isArray(raw) ? (raw as Record<string, unknown>) : {};
  const seed: Record<string, unknown> = {};
  for (const [field, fallback] of Object.entries(SEED_DEFAULTS)) {
    const schema = JobSchema.shape[field as keyof Seed];
    seed[field] = schema.safeParse(source[field]).success ? source[field] : fallback;
  }
  const createdAt = JobSchema.shape.created_at.safeParse(source.created_at);
  return {
    ...(seed as Seed),
    job_id: jobId,
    created_at: createdAt.success ? createdAt.data : parseJobId(jobId).created_at.toISOString(),
    status: "submitted",
  };
}

function reject(
  job: Job,
  kind: JobError["kind"],
  message: string,
  extra: Partial<JobError> = {},
): IntakeResult {
  return { kind: "reject", job, error: { kind, message, ...extra } };
}

function signatureOf(entries: readonly { path: string; size: number; mtimeMs: number }[]): string {
  return JSON.stringify(entries.map((e) => [e.path, e.size, Math.round(e.mtimeMs)]));
}

async function statAll(
  root: string,
  paths: readonly string[],
): Promise<{ path: string; size: number; mtimeMs: number }[]> {
  const out = [];
  for (const relative of paths) {
    try {
      const stats = await lstat(localPath(root, relative));
      out.push({ path: relative, size: stats.size, mtimeMs: stats.mtimeMs });
    } catch {
      out.push({ path: relative, size: -1, mtimeMs: 0 });
    }
  }
  return out;
}

type CopyOutcome =
  | { ok: true; manifest: FileEntry[] }
  | { ok: false; mismatched: string[]; vanished: string[] }
  | { ok: false; unreadable: string };

/** Copies every listed file into `staging`, hashing as it reads: the copy that runs is the copy verified. */
async function copyVerified(
  source: string,
  staging: string,
  paths: readonly string[],
  expected?: ReadonlyMap<string, FileEntry>,
): Promise<CopyOutcome> {
  const manifest: FileEntry[] = [];
  const mismatched: string[] = [];
  const vanished: string[] = [];
  for (const relative of paths) {
    let hashed: { size: number; sha256: string };
    try {
      hashed = await withFsRetry(() =>
        copyAndHashFile(localPath(source, relative), localPath(staging, relative)),
      );
    } catch (error) {
      const code = errnoCode(error);
      if (code === "ENOENT" || code === "ENOTDIR") {
        vanished.push(relative);
        continue;
      }
      // A full work disk is the machine's problem, not the job's: the caller waits and retries.
      if (machineCondition(error)) throw error;
      return { ok: false, unreadable: `${relative} (${code ?? (error as Error).message})` };
    }
    const want = expected?.get(relative);
    if (want && (want.sha256 !== hashed.sha256 || want.size !== hashed.size)) mismatched.push(relative);
    manifest.push({ path: relative, ...hashed });
  }
  if (mismatched.length > 0 || vanished.length > 0) return { ok: false, mismatched, vanished };
  return { ok: true, manifest };
}

/** Runs a copy into `staging`; if it throws (a full disk), the partial staging folder goes too. */
async function copyOrClean<T>(staging: string, copy: () => Promise<T>): Promise<T> {
  try {
    return await copy();
  } catch (error) {
    await removeTree(staging).catch(() => undefined);
    throw error;
  }
}

function stagingFor(ctx: IntakeContext, jobId: string): string {
  return path.join(ctx.paths.workDir, ".staging", `${jobId}.${randomBytes(4).toString("hex")}`);
}

async function promote(ctx: IntakeContext, jobId: string, staging: string): Promise<void> {
  const target = ctx.paths.workJob(jobId);
  // Left by a crash between copy and ledger: that attempt never counted, so it is safe to replace.
  await removeTree(target);
  await withFsRetry(() => rename(staging, target));
}

/** Waits, or fails the job once it has waited longer than the grace period. */
function waitOrExpire(
  ctx: IntakeContext,
  state: PendingJob,
  job: Job | undefined,
  jobId: string,
  reason: string,
  missing: string[],
): IntakeResult {
  state.lastReason = reason;
  const waitedS = (ctx.nowMs() - state.firstSeenMs) / 1000;
  if (waitedS < ctx.config.graceS) return { kind: "wait", reason };
  return reject(
    job ?? salvageJob(undefined, jobId),
    "incomplete_transfer",
    `the job's files did not all arrive within ${Math.round(ctx.config.graceS)} s (${reason}); check Syncthing on both sides, then resubmit`,
    { missing_files: missing },
  );
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
  let text: string;
  try {
    const stats = await lstat(jobPath);
    if (!stats.isFile())
      return reject(
        salvageJob(undefined, jobId),
        "rejected",
        `${JOB_FILE} is not a regular file (a link or folder); write it as a plain file`,
      );
    text = await withFsRetry(() => readFile(jobPath, "utf8"));
  } catch (error) {
    const code = errnoCode(error);
    if (code === "ENOENT")
      return waitOrExpire(ctx, state, undefined, jobId, `${JOB_FILE} has not arrived`, [JOB_FILE]);
    return reject(
      salvageJob(undefined, jobId),
      "invalid_job",
      `cannot read ${JOB_FILE}: ${code ?? (error as Error).message}`,
    );
  }

  let raw: unknown;
  try {
    raw = JSON.parse(text) as unknown;
  } catch (error) {
    return reject(
      salvageJob(undefined, jobId),
      "invalid_job",
      `${JOB_FILE} is not valid JSON (${(error as Error).message}); fix it and resubmit under a new job id`,
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
  if (await ctx.hasCancelRequest(jobId)) return { kind: "cancel", job };

  const problem = scriptProblem(ctx, job);
  if (problem) return reject(job, "rejected", problem);
  return job.files === undefined
    ? examinePlain(ctx, state, job, dir)
    : examineManifest(ctx, state, job, job.files, dir);
}

async function examineManifest(
  ctx: IntakeContext,
  state: PendingJob,
  job: Job,
  files: readonly FileEntry[],
  dir: string,
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
    return waitOrExpire(
      ctx,
      state,
      job,
      job.job_id,
      `content differs (sha256): ${state.mismatch.paths.join(", ")}`,
      state.mismatch.paths,
    );
  }
  const staging = stagingFor(ctx, job.job_id);
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
    await copyFile(path.join(dir, JOB_FILE), path.join(staging, JOB_FILE));
    await promote(ctx, job.job_id, staging);
  });
  ctx.pending.delete(job.job_id);
  const notes = [];
  if (check.unexpected.length > 0)
    notes.push(`files not in the manifest, not copied: ${check.unexpected.join(", ")}`);
  if (check.conflicts.length > 0)
    notes.push(`Syncthing conflict copies in the job folder: ${check.conflicts.join(", ")}`);
  return { kind: "accept", job, notes };
}

/** A plain SYS_19 job has no manifest: it is taken once its folder has been quiet for the settle period. */
async function examinePlain(
  ctx: IntakeContext,
  state: PendingJob,
  job: Job,
  dir: string,
): Promise<IntakeResult> {
  const listing = await listJobTree(dir);
  if (listing.unsupported.length > 0) {
    return reject(
      job,
      "rejected",
      `links and special files are never job files: ${listing.unsupported.join(", ")}`,
    );
  }
  const violations = checkJobPaths(listing.files);
  if (violations.length > 0) {
    return reject(
      job,
      "rejected",
      `job files break the path rules: ${violations.map((v) => `${v.message} [${v.rule}]`).join("; ")}`,
    );
  }
  const signature = signatureOf(await statAll(dir, listing.files)) + JSON.stringify(listing.temps);
  if (signature !== state.signature) {
    state.signature = signature;
    state.changedAtMs = ctx.nowMs();
  }
  if (listing.temps.length > 0)
    return waitOrExpire(
      ctx,
      state,
      job,
      job.job_id,
      `still arriving: ${listing.temps.join(", ")}`,
      listing.temps,
    );
  const quietS = (ctx.nowMs() - state.changedAtMs) / 1000;
  if (quietS < ctx.config.settleS) {
    return waitOrExpire(
      ctx,
      state,
      job,
      job.job_id,
      `no manifest (plain SYS_19 job): waiting for the folder to stay unchanged for ${ctx.config.settleS} s`,
      [],
    );
  }
  if (!listing.files.includes(job.script)) {
    return reject(job, "rejected", `script ${JSON.stringify(job.script)} is not in the job folder`);
  }
  const staging = stagingFor(ctx, job.job_id);
  const outcome = await copyOrClean(staging, () => copyVerified(dir, staging, listing.files));
  const after = await listJobTree(dir);
  const stillSame = signatureOf(await statAll(dir, after.files)) + JSON.stringify(after.temps) === signature;
  if (!outcome.ok || !stillSame) {
    await removeTree(staging);
    if (!outcome.ok && "unreadable" in outcome)
      return reject(job, "rejected", `cannot read job file ${outcome.unreadable}`);
    state.changedAtMs = ctx.nowMs();
    return { kind: "wait", reason: "files changed while they were copied" };
  }
  await copyOrClean(staging, async () => {
    await copyFile(path.join(dir, JOB_FILE), path.join(staging, JOB_FILE));
    await promote(ctx, job.job_id, staging);
  });
  ctx.pending.delete(job.job_id);
  return {
    kind: "accept",
    job: { ...job, files: outcome.manifest },
    notes: ["no manifest: built from the folder after it settled"],
  };
}

/** Makes sure the staging area exists (it lives in the work folder, so promote() is a same-disk rename). */
export async function prepareWorkDir(paths: RunnerPaths): Promise<void> {
  await mkdir(path.join(paths.workDir, ".staging"), { recursive: true });
  await removeTree(path.join(paths.workDir, ".staging"));
  await mkdir(path.join(paths.workDir, ".staging"), { recursive: true });
}
