import { lstat } from "node:fs/promises";
import { join } from "node:path";
import type { JobRead, QueuePaths } from "../../protocol/index.ts";
import { errnoCode, readJobAt } from "../../protocol/index.ts";
import type { JobReads } from "./row-summary.ts";

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
