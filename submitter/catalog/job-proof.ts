import { lstatSync } from "node:fs";
import { join } from "node:path";
import type { QueuePaths } from "../../protocol/index.ts";
import { errnoCode, JOB_FILE } from "../../protocol/index.ts";

/**
 * Synchronous on purpose: a listing proves every row it shows, and a missing file is the common case
 * (an archived job has no outbox or inbox copy). lstatSync with throwIfNoEntry answers that without
 * an error object or a trip through the thread pool, which made the proofs of a page of 50 cost more
 * than the rest of list_jobs together (bench P3).
 */
function fileStat(path: string): string {
  try {
    const stats = lstatSync(path, { bigint: true, throwIfNoEntry: false });
    return stats ? `${stats.ino}:${stats.size}:${stats.mtimeNs}` : "-";
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
export function jobProof(queue: QueuePaths, jobId: string, archiveNames: readonly string[]): string {
  const paths = [
    join(queue.outbox, jobId, JOB_FILE),
    join(queue.inbox, jobId, JOB_FILE),
    ...archiveNames.map((name) => join(queue.archive, name, JOB_FILE)),
  ];
  return paths.map(fileStat).join("|");
}
