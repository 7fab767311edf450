import { join } from "node:path";
import { z } from "zod";
import type { FileEntry } from "../../protocol/index.ts";
import {
  copyVerifiedFiles,
  describeManifestCheck,
  JOB_FILE,
  MAX_JOB_ID_LENGTH,
  removeTree,
  verifyManifest,
  wantedFiles,
  writeJsonAtomic,
} from "../../protocol/index.ts";
import type { JobFolder } from "../catalog/job-catalog.ts";
import type { ServerContext } from "../context.ts";
import { isFinalState } from "../jobs/job-state.ts";
import { cleanStaleStaging, makeStagingDir } from "../jobs/staging-dirs.ts";
import { knownJob } from "./job-lookup.ts";
import { OperationError } from "./operation-error.ts";

export const ArchiveJobInput = {
  job_id: z.string().max(MAX_JOB_ID_LENGTH),
};
const ArchiveJobInputSchema = z.object(ArchiveJobInput);
export type ArchiveJobArgs = z.infer<typeof ArchiveJobInputSchema>;

export const ArchiveJobOutput = {
  job_id: z.string(),
  archive_dir: z.string(),
  final_status: z.string(),
  files: z.number().int(),
  bytes: z.number().int(),
  /** The job was archived before; nothing was done. */
  already_archived: z.boolean(),
};
const ArchiveJobOutputSchema = z.object(ArchiveJobOutput);
export type ArchiveJobResult = z.infer<typeof ArchiveJobOutputSchema>;

function byPath(a: FileEntry, b: FileEntry): number {
  return a.path < b.path ? -1 : a.path > b.path ? 1 : 0;
}

/**
 * Copies a terminal job (the submitted files and the runner's results) to archive/<id>-<UTC stamp>/,
 * hashing each file once on the way and checking it against its manifest, then removes the job's
 * outbox entry and cancel request. inbox/ is only read; the runner removes its own copy once the
 * outbox entry is gone.
 */
export async function archiveJob(ctx: ServerContext, args: ArchiveJobArgs): Promise<ArchiveJobResult> {
  // Sizes only: the copy below hashes every file, so hashing them here first would read them twice.
  const record = await knownJob(ctx, args.job_id, { results: "sizes" });
  const { job_id: jobId, state } = record;
  if (state === "archived") {
    const archived = record.archive?.read.kind === "ok" ? record.archive.read.job : undefined;
    return {
      job_id: jobId,
      archive_dir: record.archive?.dir ?? "",
      final_status: archived?.status ?? "unknown",
      files: 0,
      bytes: 0,
      already_archived: true,
    };
  }
  if (!isFinalState(state)) {
    throw new OperationError(
      "wrong_state",
      `${jobId} is ${state}; only completed, failed or cancelled jobs are archived`,
      `wait_for_job {job_id: "${jobId}", seq: ${record.row.seq}}, or cancel_job first`,
    );
  }
  if (record.results.state === "syncing") throw stillSyncing(jobId, record.results.sync.summary);
  const { submitted: outbox, runner: inbox, folders } = record;
  if (inbox.kind !== "ok") {
    throw new OperationError(
      "unreadable",
      `${join(folders.runner.dir, JOB_FILE)} cannot be read`,
      "check job_status",
    );
  }
  const staging = await makeStagingDir(ctx.stagingDir, "archive");
  try {
    const copied = new Map<string, FileEntry>();
    if (outbox.kind !== "absent") {
      await copyInto(staging, folders.submitted, outbox.kind === "ok" ? outbox.job.files : undefined, copied);
    }
    // The runner's results win where a path exists on both sides.
    await copyInto(staging, folders.runner, inbox.job.results?.files, copied, jobId);
    await writeJsonAtomic(join(staging, JOB_FILE), inbox.job);
    const archive = await ctx.catalog.publishArchive(jobId, staging, ctx.now());
    const manifest = [...copied.values()].sort(byPath);
    // Every file was hashed against its manifest as it was copied; what is left to prove is that
    // each one is in the published folder at its size.
    const check = await verifyManifest(archive.dir, manifest, { sizesOnly: true });
    if (!check.complete) {
      throw new OperationError(
        "conflict",
        `the archive copy at ${archive.dir} does not verify: ${describeManifestCheck(check)}; the outbox entry was kept`,
        "check the disk, then archive_job again",
      );
    }
    await ctx.catalog.retire(jobId);
    return {
      job_id: jobId,
      archive_dir: archive.dir,
      final_status: inbox.job.status,
      files: manifest.length,
      bytes: manifest.reduce((sum, entry) => sum + entry.size, 0),
      already_archived: false,
    };
  } catch (error) {
    // As after a failed submit: reclaim what killed processes left, the failure may be a full disk.
    await cleanStaleStaging(ctx.stagingDir);
    throw error;
  } finally {
    await removeTree(staging);
  }
}

function stillSyncing(jobId: string, summary: string): OperationError {
  return new OperationError(
    "wrong_state",
    `${jobId}: ${summary}; archiving now would lose results`,
    "wait for Syncthing to deliver the rest, then archive_job again",
  );
}

/**
 * Copies a job folder's files (those of its manifest, else every file) into the staged archive,
 * hashing each on the way; the first file missing, refused or differing from its manifest entry stops
 * the archive. With `resultsOf`, the folder holds that job's results, which may still be syncing.
 */
async function copyInto(
  staging: string,
  folder: JobFolder,
  entries: readonly FileEntry[] | undefined,
  copied: Map<string, FileEntry>,
  resultsOf?: string,
): Promise<void> {
  const root = folder.dir;
  const wanted = await wantedFiles(root, entries);
  const report = await copyVerifiedFiles(root, staging, wanted, {
    within: folder.within,
    stopAtFirstProblem: true,
  });
  const [refused] = report.refused;
  if (refused?.rule) {
    throw new OperationError(
      "conflict",
      `the manifest of ${root} lists an invalid path: ${refused.reason} (rule ${refused.rule}); nothing was archived`,
      "check job_status; the job's files must be republished with valid paths",
    );
  }
  if (refused) {
    throw new OperationError(
      "conflict",
      `${refused.reason}; nothing was archived and the outbox entry was kept`,
      "remove the link or special file from the job folder (or have the runner republish it), then archive_job again",
    );
  }
  const [missing] = report.missing;
  if (missing !== undefined) {
    throw new OperationError(
      "conflict",
      `${join(root, missing)} is missing; the job's files are incomplete`,
      "check job_status, then try again",
    );
  }
  const [mismatched] = report.mismatched;
  if (mismatched !== undefined && resultsOf !== undefined) {
    throw stillSyncing(resultsOf, `${mismatched} differs from the results manifest (still syncing?)`);
  }
  if (mismatched !== undefined) {
    throw new OperationError(
      "conflict",
      `${join(root, mismatched)} does not match its manifest (size or sha256 differ)`,
      "the file changed after it was listed; check job_status and try again",
    );
  }
  if (report.failed) throw report.failed.error;
  for (const entry of report.copied) copied.set(entry.path, entry);
}
