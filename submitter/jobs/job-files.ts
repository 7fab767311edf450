import { readdir } from "node:fs/promises";
import { join } from "node:path";
import type { Job, QueuePaths } from "../../protocol/index.ts";
import { errnoCode, isProtocolError, parseArchiveDirName, readJob } from "../../protocol/index.ts";

/** A job.json as found on disk: absent, valid, or present but unusable (named, never guessed at). */
export type JobRead = { kind: "absent" } | { kind: "ok"; job: Job } | { kind: "invalid"; problem: string };

/** Reads `<dir>/job.json` without throwing: a half-synced or malformed file is a fact to report. */
export async function readJobAt(dir: string): Promise<JobRead> {
  try {
    return { kind: "ok", job: await readJob(dir) };
  } catch (error) {
    const code = errnoCode(error);
    if (code === "ENOENT" || code === "ENOTDIR") return { kind: "absent" };
    if (isProtocolError(error)) return { kind: "invalid", problem: error.message };
    return { kind: "invalid", problem: error instanceof Error ? error.message : String(error) };
  }
}

/** Archive folders of one job, newest first: a readdir filtered by prefix (used when no index runs). */
export async function findArchiveDirs(queue: QueuePaths, jobId: string): Promise<string[]> {
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

export interface JobDirs {
  outbox: string;
  inbox: string;
}

export function jobDirs(queue: QueuePaths, jobId: string): JobDirs {
  return { outbox: join(queue.outbox, jobId), inbox: join(queue.inbox, jobId) };
}
