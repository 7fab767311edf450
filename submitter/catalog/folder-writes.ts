import { mkdir, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import type { CancelRequest, FetchReceipt, QueuePaths } from "../../protocol/index.ts";
import {
  archiveDirName,
  cancelRequestPath,
  fetchReceiptPath,
  parseArchiveDirName,
  pathExists,
  publishDirectory,
  readCancelRequest,
  readJobAt,
  removeTree,
  withFsRetry,
  writeJsonAtomic,
} from "../../protocol/index.ts";
import { stagingName } from "../jobs/staging-dirs.ts";
import type { ArchivedCopy, JobFolder, PublishOutcome } from "./job-catalog.ts";

/** The submitting side's writes to the folder queue; both folder catalogs make them the same way. */
export interface FolderQueue {
  queue: QueuePaths;
  /** Same filesystem as outbox/ and archive/, outside the synced folders. */
  stagingDir: string;
}

export async function isTaken(
  target: FolderQueue,
  jobId: string,
  archiveNames: (jobId: string) => Promise<string[]>,
): Promise<boolean> {
  if (await pathExists(join(target.queue.outbox, jobId))) return true;
  if (await pathExists(join(target.queue.inbox, jobId))) return true;
  return (await archiveNames(jobId)).length > 0;
}

export function submissionFolder(target: FolderQueue, jobId: string): JobFolder {
  return { dir: join(target.queue.outbox, jobId), within: target.queue.outbox };
}

/** Renames the staged folder into outbox/ whole; an id published meanwhile is "taken". */
export async function publishSubmission(
  target: FolderQueue,
  jobId: string,
  staged: string,
): Promise<PublishOutcome> {
  const folder = submissionFolder(target, jobId);
  try {
    await publishDirectory(staged, folder.dir);
  } catch (error) {
    if (error instanceof Error && "code" in error && (error as { code: unknown }).code === "conflict")
      return { published: false, reason: "taken" };
    throw error;
  }
  return { published: true, folder };
}

export async function requestCancel(
  target: FolderQueue,
  request: CancelRequest,
  keep: (existing: CancelRequest) => boolean = () => true,
): Promise<{ request: CancelRequest; already: boolean }> {
  const existing = await readCancelRequest(target.queue, request.job_id);
  // An unusable request file is rewritten: the runner cancels on it anyway, but an agent gets a valid one.
  // So is one `keep` refuses (not signed by this side's key): the runner ignores it, ours it obeys.
  if (existing.kind === "ok" && keep(existing.request)) return { request: existing.request, already: true };
  await mkdir(target.queue.cancelDir, { recursive: true });
  await writeJsonAtomic(cancelRequestPath(target.queue, request.job_id), request);
  return { request, already: false };
}

export async function recordFetch(target: FolderQueue, receipt: FetchReceipt): Promise<void> {
  await mkdir(target.queue.fetchedDir, { recursive: true });
  await writeJsonAtomic(fetchReceiptPath(target.queue, receipt.job_id), receipt);
}

/** archive/<id>-<UTC stamp>/, one second later per name already taken, published by rename. */
export async function publishArchive(
  target: FolderQueue,
  jobId: string,
  staged: string,
  at: Date,
): Promise<ArchivedCopy> {
  let name = archiveDirName(jobId, at);
  for (let attempt = 2; await pathExists(join(target.queue.archive, name)); attempt++) {
    name = archiveDirName(jobId, new Date(at.getTime() + (attempt - 1) * 1000));
  }
  const dir = join(target.queue.archive, name);
  await publishDirectory(staged, dir);
  return {
    dir,
    within: target.queue.archive,
    name,
    archived_at: parseArchiveDirName(name)?.archived_at ?? "",
    read: await readJobAt(dir),
  };
}

export async function retire(target: FolderQueue, jobId: string): Promise<void> {
  const outboxDir = join(target.queue.outbox, jobId);
  if (await pathExists(outboxDir)) {
    // Rename out of the synced folder first, so Syncthing sees one clean removal, never a half-deleted job.
    const trash = join(target.stagingDir, stagingName("trash"));
    await withFsRetry(() => rename(outboxDir, trash));
    await removeTree(trash);
  }
  await rm(cancelRequestPath(target.queue, jobId), { force: true });
}
