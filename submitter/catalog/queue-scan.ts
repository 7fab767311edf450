import type { Dirent } from "node:fs";
import { lstat, readdir } from "node:fs/promises";
import { join } from "node:path";
import type { QueuePaths } from "../../protocol/index.ts";
import { errnoCode, parseArchiveDirName } from "../../protocol/index.ts";
import type { JobRead } from "../jobs/job-files.ts";
import { readJobAt } from "../jobs/job-files.ts";
import type { JobReads } from "./row-summary.ts";

/** What one pass over outbox/, inbox/ and archive/ finds (folders only: a link is never a job folder). */
export interface QueueScan {
  ids: string[];
  /** Jobs with an inbox/<id>/ folder. */
  inboxDirs: string[];
  /** Archive folder names (archive/<job_id>-<UTC stamp>/). */
  archiveNames: string[];
}

async function entries(root: string): Promise<Dirent[]> {
  try {
    return await readdir(root, { withFileTypes: true });
  } catch (error) {
    if (errnoCode(error) === "ENOENT") return [];
    throw error;
  }
}

/** Every job the folders hold, or only `only` (the CLI's wait: no full listing of outbox/ and inbox/). */
export async function scanQueue(queue: QueuePaths, only?: string): Promise<QueueScan> {
  const ids = new Set<string>();
  const inboxDirs: string[] = [];
  if (only === undefined) {
    for (const dirent of await entries(queue.outbox)) {
      if (dirent.isDirectory() && dirent.name.startsWith("job-")) ids.add(dirent.name);
    }
    for (const dirent of await entries(queue.inbox)) {
      if (!dirent.isDirectory() || !dirent.name.startsWith("job-")) continue;
      ids.add(dirent.name);
      inboxDirs.push(dirent.name);
    }
  } else {
    ids.add(only);
    if (await isDirectory(join(queue.inbox, only))) inboxDirs.push(only);
  }
  const archiveNames: string[] = [];
  for (const dirent of await entries(queue.archive)) {
    const parsed = dirent.isDirectory() ? parseArchiveDirName(dirent.name) : undefined;
    if (parsed && (only === undefined || parsed.job_id === only)) {
      ids.add(parsed.job_id);
      archiveNames.push(dirent.name);
    }
  }
  return { ids: [...ids], inboxDirs, archiveNames };
}

/** Archive folders of one job, newest first: a readdir filtered by name (when no index knows them). */
export async function archiveNamesOf(queue: QueuePaths, jobId: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(queue.archive);
  } catch (error) {
    if (errnoCode(error) === "ENOENT") return [];
    throw error;
  }
  return names
    .filter((name) => parseArchiveDirName(name)?.job_id === jobId)
    .sort()
    .reverse();
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
