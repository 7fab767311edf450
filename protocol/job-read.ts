import { withFsRetry } from "./atomic-fs.ts";
import { errnoCode, isProtocolError } from "./errors.ts";
import { readJob } from "./job-file.ts";
import type { Job } from "./job-schema.ts";

/**
 * A job.json as found on disk: absent, valid, or present but unusable (named, never guessed at).
 * `cause` tells a bad file (bytes, JSON, fields, a link or special file: it stays bad until rewritten)
 * from a failing read (EACCES, EIO: the file may be fine), for callers that treat the two apart.
 */
export type JobRead =
  | { kind: "absent" }
  | { kind: "ok"; job: Job }
  | { kind: "invalid"; problem: string; cause: "content" | "fs" };

/**
 * Reads `<dir>/job.json` without throwing: a half-synced or malformed file is a fact to report. A
 * missing folder or file is `absent`; everything readJob refuses (a linked job folder, a job.json that
 * is a link, FIFO or folder, bad bytes, JSON or fields) is `invalid`. Windows' transient locks
 * (Syncthing, an indexer) are retried first.
 */
export async function readJobAt(dir: string): Promise<JobRead> {
  try {
    return { kind: "ok", job: await withFsRetry(() => readJob(dir)) };
  } catch (error) {
    const code = errnoCode(error);
    if (code === "ENOENT" || code === "ENOTDIR") return { kind: "absent" };
    if (isProtocolError(error)) return { kind: "invalid", problem: error.message, cause: "content" };
    return { kind: "invalid", problem: error instanceof Error ? error.message : String(error), cause: "fs" };
  }
}

/** The job of a read, or undefined when it was absent or unusable. */
export function jobOf(read: JobRead): Job | undefined {
  return read.kind === "ok" ? read.job : undefined;
}
