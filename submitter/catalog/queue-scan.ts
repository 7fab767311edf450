import { lstat } from "node:fs/promises";
import { join } from "node:path";
import type { ArchiveDir, JobRead, QueuePaths } from "../../protocol/index.ts";
import { errnoCode, jobFolderNames, listArchiveDirs, readJobAt } from "../../protocol/index.ts";
import type { JobReads } from "./row-summary.ts";

/** What one pass over outbox/, inbox/ and archive/ finds (folders only: a link is never a job folder). */
export interface QueueScan {
  ids: string[];
  /** Jobs with an inbox/<id>/ folder. */
  inboxDirs: string[];
  /** Archive folders (archive/<job_id>-<UTC stamp>/), newest first. */
  archives: ArchiveDir[];
}

/** Every job the folders hold, or only `only` (the CLI's wait: no full listing of outbox/ and inbox/). */
export async function scanQueue(queue: QueuePaths, only?: string): Promise<QueueScan> {
  const listed = await listArchiveDirs(queue.archive);
  if (only !== undefined) {
    const archives = listed.filter((dir) => dir.job_id === only);
    const inboxDirs = (await isDirectory(join(queue.inbox, only))) ? [only] : [];
    return { ids: [only], inboxDirs, archives };
  }
  const [outbox, inboxDirs] = await Promise.all([jobFolderNames(queue.outbox), jobFolderNames(queue.inbox)]);
  const ids = new Set([...outbox, ...inboxDirs, ...listed.map((dir) => dir.job_id)]);
  return { ids: [...ids], inboxDirs, archives: listed };
}

export async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await lstat(path)).isDirectory();
  } catch (error) {
    if (errnoCode(error) === "ENOENT" || errnoCode(error) === "ENOTDIR") return false;
    throw error;
  }
}

/** A job's outbox and inbox job.json and those of the archive folders named (a folder without one is gone). */
export async function readJobReads(
  queue: QueuePaths,
  jobId: string,
  archiveNames: Iterable<string>,
): Promise<JobReads> {
  const [outbox, inbox] = await Promise.all([
    readJobAt(join(queue.outbox, jobId)),
    readJobAt(join(queue.inbox, jobId)),
  ]);
  const archives = new Map<string, JobRead>();
  for (const name of archiveNames) {
    const read = await readJobAt(join(queue.archive, name));
    // Archives are published whole by rename: no job.json means the folder is gone.
    if (read.kind !== "absent") archives.set(name, read);
  }
  return { outbox, inbox, archives };
}
