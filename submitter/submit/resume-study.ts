import { join } from "node:path";
import type { FileEntry, Job } from "../../protocol/index.ts";
import { copyVerifiedFile, RESULTS_DIR, STUDY_DB } from "../../protocol/index.ts";
import type { ServerContext } from "../context.ts";
import { isFinalState } from "../jobs/job-state.ts";
import { knownJob } from "../operations/job-lookup.ts";
import { OperationError } from "../operations/operation-error.ts";
import { summarizeStudyDb } from "../results/study-summary.ts";
import { checkRunnerSignature } from "../signing/record-signature.ts";

/** Job-relative path of the Optuna database a resumed job carries (and the script opens). */
export const RESUMED_STUDY_PATH = `${RESULTS_DIR}/${STUDY_DB}`;

/**
 * Failures the study did not cause: it was stopped from outside, so its trials are sound and it can go
 * on where it stopped. Any other failure (exit_code, ...) may have recorded trials from a broken
 * script or model; continuing would mix them into the new run.
 */
const RESUMABLE_FAILURES: ReadonlySet<string> = new Set(["runner_restart", "timeout"]);

export interface ResumeSource {
  jobId: string;
  /** inbox/<id>/ or archive/<id>-<stamp>/: the folder whose results manifest is trusted. */
  dir: string;
  archived: boolean;
  /** inbox/ or archive/: the file must really lie in it (a linked folder never leads elsewhere). */
  syncedFolder: string;
  /** The results manifest's entry for 3_results/study.db. */
  entry: FileEntry;
}

export interface ResumedStudy {
  /** The job whose study goes on. */
  from: string;
  /** The new job's manifest entry (the same size and sha256 as the earlier job's results listed). */
  entry: FileEntry;
  /** Trials already in the study.db: the new run's trial numbers start after them. */
  trials: number;
}

/** A study_dir with its own 3_results/study.db and a resume_from: which study goes on is not clear. */
export function refuseAmbiguousStudy(studyPaths: readonly string[], resumeFrom: string): void {
  if (!studyPaths.includes(RESUMED_STUDY_PATH)) return;
  throw new OperationError(
    "invalid_argument",
    `study_dir has its own ${RESUMED_STUDY_PATH} and resume_from ${resumeFrom} would bring another; which study to continue is ambiguous`,
    `remove ${RESUMED_STUDY_PATH} from the study folder to continue ${resumeFrom}'s study, or submit without resume_from`,
  );
}

function refuseUnlessResumable(job: Job): void {
  if (job.status === "completed" || job.status === "cancelled") return;
  const kind = job.error?.kind ?? "an unknown error";
  if (job.status === "failed" && RESUMABLE_FAILURES.has(kind)) return;
  throw new OperationError(
    "wrong_state",
    `${job.job_id} failed with ${kind}; only a study stopped from outside (runner_restart, timeout, cancelled) or a completed one is continued, since its trials may come from a broken script or model`,
    `fix the cause (job_status ${job.job_id} shows the error and log_tail), then submit without resume_from`,
  );
}

/**
 * The finished job whose study a new job continues, and where its verified results are: inbox/<id>/
 * (published by the runner) or its newest archive folder. Refuses, naming why, anything that is not
 * finished, failed in a way that taints its trials, or published no study.db.
 */
export async function findResumeSource(ctx: ServerContext, rawJobId: string): Promise<ResumeSource> {
  // Sizes only: study.db is hashed while it is copied (stageResumedStudy).
  const job = await knownJob(ctx, rawJobId, { results: "sizes" });
  if (!isFinalState(job.state)) {
    throw new OperationError(
      "wrong_state",
      `${job.job_id} is ${job.state}; a study is resumed from a job that has finished`,
      `wait_for_job {job_id: "${job.job_id}", seq: ${job.row.seq}}, or cancel_job it and resume once it is cancelled`,
    );
  }
  const archived = job.state === "archived" && job.archive !== undefined;
  const folder = archived && job.folders.archive ? job.folders.archive : job.folders.runner;
  const read = archived && job.archive ? job.archive.read : job.runner;
  if (read.kind !== "ok") {
    throw new OperationError(
      "unreadable",
      `${join(folder.dir, "job.json")} ${read.kind === "absent" ? "is missing" : `is unusable: ${read.problem}`}`,
      "wait for Syncthing to deliver it, then submit again",
    );
  }
  refuseUnlessResumable(read.job);
  // A signed job carries what it resumes: with the workstation's keys, only a study the workstation signed.
  if (ctx.trustedKeys.length > 0) {
    const check = checkRunnerSignature(read.job, ctx.trustedKeys);
    if (check.runner_signature !== "verified") {
      throw new OperationError(
        "forbidden",
        `${job.job_id}'s record in ${folder.dir} is ${check.runner_signature === "unsigned" ? "not signed" : `not signed by a trusted workstation key (${check.runner_signature})`}: its study.db cannot be shown to come from the workstation, so it is not carried into a signed job`,
        "check the job with fetch_results (runner_signature says what failed), or submit without resume_from to start the study afresh",
      );
    }
  }
  const entry = read.job.results?.files.find((file) => file.path === RESUMED_STUDY_PATH);
  if (!entry) {
    throw new OperationError(
      "wrong_state",
      `${job.job_id}'s results list no ${RESUMED_STUDY_PATH} (its script never stored a study): nothing to resume`,
      "submit without resume_from to start the study afresh",
    );
  }
  return { jobId: job.job_id, dir: folder.dir, archived, syncedFolder: folder.within, entry };
}

/**
 * Copies the source's study.db into the staged job's 3_results/, verified against the results manifest
 * on the way, and counts its trials from the copy (which also proves it is an Optuna study).
 */
export async function stageResumedStudy(source: ResumeSource, staging: string): Promise<ResumedStudy> {
  const target = join(staging, ...RESUMED_STUDY_PATH.split("/"));
  const from = join(source.dir, ...RESUMED_STUDY_PATH.split("/"));
  const copied = await copyVerifiedFile(from, target, source.entry, {
    within: source.syncedFolder,
    atomic: true,
  });
  const { outcome } = copied;
  if (copied.outcome === "refused") {
    throw new OperationError(
      "unreadable",
      `${copied.reason}; nothing was submitted`,
      "a link or special file sits where the earlier job's study.db belongs; submit without resume_from",
    );
  }
  if (outcome !== "ok") {
    const what =
      outcome === "missing" ? "is missing" : "does not match its results manifest (size or sha256)";
    if (source.archived) {
      throw new OperationError(
        "conflict",
        `${from} ${what}; the archive copy of ${source.jobId} is damaged`,
        `fetch_results {job_id: "${source.jobId}"} to inspect it, or submit without resume_from`,
      );
    }
    throw new OperationError(
      "wrong_state",
      `${from} ${what}: ${source.jobId}'s results are still syncing`,
      "wait a minute for Syncthing to deliver them, then submit again",
    );
  }
  let trials: number;
  try {
    trials = summarizeStudyDb(target).reduce((sum, study) => sum + study.trials_total, 0);
  } catch (error) {
    throw new OperationError(
      "invalid_argument",
      `${source.jobId}'s ${RESUMED_STUDY_PATH} is not a readable Optuna study: ${(error as Error).message}`,
      "submit without resume_from to start the study afresh",
    );
  }
  return {
    from: source.jobId,
    entry: { path: RESUMED_STUDY_PATH, size: source.entry.size, sha256: source.entry.sha256 },
    trials,
  };
}
