import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import {
  copyVerifiedFiles,
  isTerminal,
  JOB_FILE,
  LOG_FILE,
  MAX_JOB_ID_LENGTH,
  README_FILE,
  RESULTS_DIR,
  readLogTail,
  STUDY_DB,
  tailLines,
  wantedFiles,
  writeJsonAtomic,
} from "../../protocol/index.ts";
import type { ServerContext } from "../context.ts";
import { isFinalState } from "../jobs/job-state.ts";
import { plainLogText } from "../jobs/log-file.ts";
import type { CsvPreview } from "../results/csv-preview.ts";
import { CsvPreviewSchema, previewCsv } from "../results/csv-preview.ts";
import { MAX_PLOTS_ATTACHED, writeJobVisuals } from "../results/job-visuals.ts";
import type { ImageNote, LoadedImage } from "../results/png-images.ts";
import { loadPngImages, MAX_IMAGES } from "../results/png-images.ts";
import { PlotNoteSchema } from "../results/study-plots.ts";
import type { StudySummary } from "../results/study-summary.ts";
import { StudySummarySchema, summarizeStudyDb } from "../results/study-summary.ts";
import { checkRunnerSignature, RunnerSignatureOutput } from "../signing/record-signature.ts";
import { knownJob } from "./job-lookup.ts";
import { OperationError } from "./operation-error.ts";

export const FetchResultsInput = {
  job_id: z.string().max(MAX_JOB_ID_LENGTH),
  max_images: z
    .number()
    .int()
    .min(0)
    .max(MAX_IMAGES)
    .optional()
    .describe("PNG plots to attach")
    .meta({ default: MAX_IMAGES }),
};
const FetchResultsInputSchema = z.object(FetchResultsInput);
export type FetchResultsArgs = z.infer<typeof FetchResultsInputSchema>;

export const FetchResultsOutput = {
  job_id: z.string(),
  state: z.string(),
  /** Every result file copied and verified against the results manifest. */
  complete: z.boolean(),
  files_total: z.number().int(),
  files_copied: z.number().int(),
  missing: z.array(z.string()),
  mismatched: z.array(z.string()),
  /** Result files not copied because they are links, special files or bad paths: why, one each. */
  refused: z.array(z.string()),
  work_dir: z.string(),
  study: z.array(StudySummarySchema),
  study_error: z.string().optional(),
  csv: z.array(CsvPreviewSchema),
  images: z.array(
    z.object({ path: z.string(), size: z.number(), included: z.boolean(), note: z.string().optional() }),
  ),
  /** Plots drawn from study.db into <work_dir>/plots/ (the first attached as images). */
  plots: z.array(PlotNoteSchema),
  /** <work_dir>/report.html: one self-contained page with the summary, plots, log tail and README. */
  report: z.string(),
  log_tail: z.array(z.string()),
  ...RunnerSignatureOutput,
  next: z.string(),
};
const FetchResultsOutputSchema = z.object(FetchResultsOutput);
export type FetchResultsSummary = z.infer<typeof FetchResultsOutputSchema>;

export interface FetchResultsResult {
  summary: FetchResultsSummary;
  images: LoadedImage[];
}

const MAX_CSV = 5;
const MAX_LISTED = 20;
const LOG_TAIL_BYTES = 4096;

/**
 * For a finished job: copies it (never touching inbox/, SYS_19 rule 1) into the local working folder,
 * verifies it against the results manifest, then summarises study.db, CSVs, plots and the log tail
 * from the copy.
 */
export async function fetchResults(
  ctx: ServerContext,
  args: FetchResultsArgs,
  agent: string,
): Promise<FetchResultsResult> {
  // Sizes only: every file is hashed while it is copied below.
  const record = await knownJob(ctx, args.job_id, { results: "sizes" });
  const jobId = record.job_id;
  if (!isFinalState(record.state)) {
    throw new OperationError(
      "wrong_state",
      `${jobId} is ${record.state}; results exist once it has finished`,
      `wait_for_job {job_id: "${jobId}", seq: ${record.row.seq}}`,
    );
  }
  const archive = record.state === "archived" ? record.archive : undefined;
  // Files must really lie in the synced folder: a linked job folder or 3_results/ leads nowhere else.
  const folder = archive ?? record.folders.runner;
  const sourceDir = folder.dir;
  const read = archive ? archive.read : record.runner;
  if (read.kind !== "ok") {
    throw new OperationError(
      "unreadable",
      `${join(sourceDir, JOB_FILE)} ${read.kind === "absent" ? "is missing" : `is unusable: ${read.problem}`}`,
      "wait for Syncthing to deliver it, then call fetch_results again",
    );
  }
  const job = read.job;
  // With the workstation's keys, a file is the workstation's only when its signed record lists it: a
  // record without a results manifest (a job that never ran) gets nothing copied, whatever lies beside it.
  const manifest = job.results?.files ?? (ctx.trustedKeys.length > 0 ? [] : undefined);
  const workDir = join(ctx.workDir, jobId);
  await mkdir(workDir, { recursive: true });
  const wanted = await wantedFiles(
    sourceDir,
    manifest,
    (path) => path === LOG_FILE || path.startsWith(`${RESULTS_DIR}/`),
  );
  // Landed by temp + rename only once they match: a result still syncing never lands in the work folder.
  const copy = { within: folder.within, atomic: true };
  const report = await copyVerifiedFiles(sourceDir, workDir, wanted, copy);
  if (report.failed) throw report.failed.error;
  const { copied, missing, mismatched } = report;
  // The manifest comes from the other machine: a path breaking the rules was refused before any fs call.
  const refused = report.refused.map((refusal) =>
    refusal.rule ? `results manifest entry ${refusal.reason}` : refusal.reason,
  );
  // The record that was read and checked, not a second read of a file that may have changed since.
  await writeJsonAtomic(join(workDir, JOB_FILE), job);
  const copiedPaths = new Set(copied.map((entry) => entry.path));
  const local = (path: string) => join(workDir, ...path.split("/"));

  let study: StudySummary[] = [];
  let studyError: string | undefined;
  const dbPath =
    [`${RESULTS_DIR}/${STUDY_DB}`, ...[...copiedPaths].filter((path) => path.endsWith(".db"))].find((path) =>
      copiedPaths.has(path),
    ) ?? undefined;
  if (dbPath) {
    try {
      study = summarizeStudyDb(local(dbPath));
    } catch (error) {
      studyError = `${dbPath}: ${(error as Error).message}`;
    }
  }
  const csv: CsvPreview[] = [];
  for (const path of [...copiedPaths].filter((p) => p.toLowerCase().endsWith(".csv")).slice(0, MAX_CSV)) {
    csv.push(await previewCsv(local(path), path));
  }
  const pngs = (manifest ?? [])
    .filter((entry) => copiedPaths.has(entry.path) && entry.path.toLowerCase().endsWith(".png"))
    .map((entry) => ({ path: entry.path, file: local(entry.path), size: entry.size }));
  const { images, notes }: { images: LoadedImage[]; notes: ImageNote[] } = await loadPngImages(
    pngs,
    args.max_images ?? MAX_IMAGES,
  );
  const logTail = tailLines(
    await readLogTail(local(LOG_FILE), { maxBytes: LOG_TAIL_BYTES, maxLines: 30 }),
  ).map(plainLogText);
  const complete =
    job.results !== undefined && missing.length === 0 && mismatched.length === 0 && refused.length === 0;
  if (complete && isTerminal(job.status)) {
    // The receipt acknowledges the notifier's hand-off to the post-processing agent (plugin/notifier).
    await ctx.catalog.recordFetch({
      job_id: jobId,
      fetched_at: new Date().toISOString(),
      fetched_by: agent,
      status: job.status,
    });
  }
  const next = complete
    ? `next: analyse files in ${workDir}, then archive_job {job_id: "${jobId}"}`
    : manifest === undefined
      ? "next: the job has no results manifest; the files present were copied as they are"
      : refused.length > 0
        ? `next: ${refused.length} result files were refused and not copied (${refused[0]}${refused.length > 1 ? "; see refused for the rest" : ""}); ask the runner's operator to republish them as regular files`
        : `next: ${missing.length + mismatched.length} result files are still syncing; call fetch_results again in a minute`;
  const visuals = await writeJobVisuals({
    jobId,
    state: archive ? `archived (${archive.name})` : record.state,
    job,
    workDir,
    dbFile: dbPath && !studyError ? local(dbPath) : undefined,
    study,
    ...(studyError ? { studyError } : {}),
    files: { copied: copied.length, total: wanted.length, complete },
    logTail,
    readmeFiles: [join(sourceDir, README_FILE), join(record.folders.submitted.dir, README_FILE)],
    attach: Math.min(MAX_PLOTS_ATTACHED, args.max_images ?? MAX_IMAGES),
  });
  return {
    summary: {
      job_id: jobId,
      state: archive ? `archived (${archive.name})` : record.state,
      complete,
      files_total: wanted.length,
      files_copied: copied.length,
      missing: missing.slice(0, MAX_LISTED),
      mismatched: mismatched.slice(0, MAX_LISTED),
      refused: refused.slice(0, MAX_LISTED),
      work_dir: workDir,
      study,
      ...(studyError ? { study_error: studyError } : {}),
      csv,
      images: notes.slice(0, 20),
      plots: visuals.plots,
      report: visuals.report,
      log_tail: logTail,
      ...checkRunnerSignature(job, ctx.trustedKeys),
      next,
    },
    images: [...visuals.images, ...images],
  };
}
