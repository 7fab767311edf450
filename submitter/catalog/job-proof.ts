import { lstat } from "node:fs/promises";
import { join } from "node:path";
import type { QueuePaths } from "../../protocol/index.ts";
import { errnoCode, JOB_FILE } from "../../protocol/index.ts";

async function fileStat(path: string): Promise<string> {
  try {
    const stats = await lstat(path, { bigint: true });
    return `${stats.ino}:${stats.size}:${stats.mtimeNs}`;
  } catch (error) {
    const code = errnoCode(error);
    if (code === "ENOENT" || code === "ENOTDIR") return "-";
    // Unknown: never equal to a stored proof, so the job is read again.
    return `?${code ?? "error"}:${Date.now()}`;
  }
}

/**
 * The stats of the job.json files a job's row is read from: outbox, inbox and each archive copy.
 * Every job.json is written by rename (a new inode, a new mtime), so a proof equal to the stored one
 * means the row was read from the files as they are. Taken before the files are read: a file
 * replaced meanwhile leaves an older proof, and the next look reads it again.
 */
export async function jobProof(
  queue: QueuePaths,
  jobId: string,
  archiveNames: readonly string[],
): Promise<string> {
  const paths = [
    join(queue.outbox, jobId, JOB_FILE),
    join(queue.inbox, jobId, JOB_FILE),
    ...archiveNames.map((name) => join(queue.archive, name, JOB_FILE)),
  ];
  return (await Promise.all(paths.map(fileStat))).join("|");
}
