import { rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import type { FileEntry } from "../../protocol/index.ts";
import {
  archiveDirName,
  checkJobPath,
  copyAndHashFile,
  describeManifestCheck,
  errnoCode,
  isProtocolError,
  JOB_FILE,
  listJobTree,
  MAX_JOB_ID_LENGTH,
  pathExists,
  publishDirectory,
  removeTree,
  verifyManifest,
  withFsRetry,
  writeJsonAtomic,
} from "../../protocol/index.ts";
import type { ServerContext } from "../context.ts";
import { readJobAt } from "../jobs/job-files.ts";
import { cleanStaleStaging, makeStagingDir, stagingName } from "../jobs/staging-dirs.ts";
import { cancelRequestPath, unknownJobError } from "./job-lookup.ts";
import { jobStatus } from "./job-status.ts";
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
 * verifies the copy against both manifests, then removes the job's outbox entry and cancel request.
 * inbox/ is only read; the runner removes its own copy once the outbox entry is gone.
 */
export async function archiveJob(ctx: ServerContext, args: ArchiveJobArgs): Promise<ArchiveJobResult> {
  const view = await jobStatus(ctx, args.job_id);
  if (view.state === "unknown") throw unknownJobError(view.job_id, view.suggestions);
  if (view.state === "archived") {
    return {
      job_id: view.job_id,
      archive_dir: view.archive_dir,
      final_status: view.final_status,
      files: 0,
      bytes: 0,
      already_archived: true,
    };
  }
  if (view.state !== "completed" && view.state !== "failed" && view.state !== "cancelled") {
    throw new OperationError(
      "wrong_state",
      `${view.job_id} is ${view.state}; only completed, failed or cancelled jobs are archived`,
      view.state === "running" || view.state === "queued" || view.state === "submitted"
        ? `wait_for_job {job_id: "${view.job_id}", seq: ${view.seq}}, or cancel_job first`
        : "check job_status",
    );
  }
  if (view.results?.manifest && !view.results.complete) {
    throw new OperationError(
      "wrong_state",
      `${view.job_id}: ${view.results.summary}; archiving now would lose results`,
      "wait for Syncthing to deliver the rest, then archive_job again",
    );
  }
  const outboxDir = join(ctx.queue.outbox, view.job_id);
  const inboxDir = join(ctx.queue.inbox, view.job_id);
  const [outbox, inbox] = await Promise.all([readJobAt(outboxDir), readJobAt(inboxDir)]);
  if (inbox.kind !== "ok") {
    throw new OperationError("unreadable", `${join(inboxDir, JOB_FILE)} cannot be read`, "check job_status");
  }
  const staging = await makeStagingDir(ctx.stagingDir, "archive");
  try {
    const copied = new Map<string, FileEntry>();
    const copyAll = async (root: string, syncedFolder: string, entries: readonly FileEntry[] | undefined) => {
      const list: { path: string; expected: FileEntry | undefined }[] = entries
        ? entries.map((entry) => ({ path: entry.path, expected: entry }))
        : (await listJobTree(root)).files.map((path) => ({ path, expected: undefined }));
      for (const { path, expected } of list) {
        const problem = checkJobPath(path);
        if (problem && problem.rule !== "reserved_job_file") {
          throw new OperationError(
            "conflict",
            `the manifest of ${root} lists an invalid path: ${problem.message} (rule ${problem.rule}); nothing was archived`,
            "check job_status; the job's files must be republished with valid paths",
          );
        }
        const target = join(staging, ...path.split("/"));
        await rm(target, { force: true });
        let hashed: { size: number; sha256: string };
        try {
          hashed = await copyAndHashFile(join(root, ...path.split("/")), target, { within: syncedFolder });
        } catch (error) {
          if (isProtocolError(error, "unsafe_file")) {
            throw new OperationError(
              "conflict",
              `${error.message}; nothing was archived and the outbox entry was kept`,
              "remove the link or special file from the job folder (or have the runner republish it), then archive_job again",
            );
          }
          if (errnoCode(error) === "ENOENT") {
            throw new OperationError(
              "conflict",
              `${join(root, path)} is missing; the job's files are incomplete`,
              "check job_status, then try again",
            );
          }
          throw error;
        }
        if (expected && (hashed.size !== expected.size || hashed.sha256 !== expected.sha256)) {
          throw new OperationError(
            "conflict",
            `${join(root, path)} does not match its manifest (size or sha256 differ)`,
            "the file changed after it was listed; check job_status and try again",
          );
        }
        copied.set(path, { path, ...hashed });
      }
    };
    if (outbox.kind !== "absent")
      await copyAll(outboxDir, ctx.queue.outbox, outbox.kind === "ok" ? outbox.job.files : undefined);
    // The runner's results win where a path exists on both sides.
    await copyAll(inboxDir, ctx.queue.inbox, inbox.job.results?.files);
    await writeJsonAtomic(join(staging, JOB_FILE), inbox.job);
    const now = ctx.now();
    let name = archiveDirName(view.job_id, now);
    for (let attempt = 2; await pathExists(join(ctx.queue.archive, name)); attempt++) {
      name = archiveDirName(view.job_id, new Date(now.getTime() + (attempt - 1) * 1000));
    }
    const target = join(ctx.queue.archive, name);
    await publishDirectory(staging, target);
    const manifest = [...copied.values()].sort(byPath);
    const check = await verifyManifest(target, manifest);
    if (!check.complete) {
      throw new OperationError(
        "conflict",
        `the archive copy at ${target} does not verify: ${describeManifestCheck(check)}; the outbox entry was kept`,
        "check the disk, then archive_job again",
      );
    }
    ctx.index?.noteArchiveDir(name);
    if (outbox.kind !== "absent") {
      // Rename out of the synced folder first, so Syncthing sees one clean removal, never a half-deleted job.
      const trash = join(ctx.stagingDir, stagingName("trash"));
      await withFsRetry(() => rename(outboxDir, trash));
      await removeTree(trash);
    }
    await rm(cancelRequestPath(ctx, view.job_id), { force: true });
    await ctx.index?.refresh(view.job_id);
    return {
      job_id: view.job_id,
      archive_dir: target,
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
