import path from "node:path";
import { pathExists, readJsonFile } from "./atomic-fs.ts";
import { errnoCode } from "./errors.ts";
import type { CancelRequest } from "./job-schema.ts";
import { CancelRequestSchema, describeZodError } from "./job-schema.ts";
import type { QueuePaths } from "./queue-layout.ts";

// The files the queue keeps per job outside the job folders: outbox/.cancel/<job_id>.json (the
// submitting side asks the runner to cancel) and .state/fetched/<job_id>.json (an agent fetched the
// results). Job ids are validated before they are joined onto these.

type Join = { join: typeof path.join };

/** outbox/<job_id>/ and inbox/<job_id>/: the two folders a live job has. */
export interface JobDirs {
  outbox: string;
  inbox: string;
}

export function jobDirs(
  queue: Pick<QueuePaths, "outbox" | "inbox">,
  jobId: string,
  pathApi: Join = path,
): JobDirs {
  return { outbox: pathApi.join(queue.outbox, jobId), inbox: pathApi.join(queue.inbox, jobId) };
}

/** `outbox/.cancel/<job_id>.json`; `pathApi` lets the runner compute Windows paths on any host. */
export function cancelRequestPath(
  queue: Pick<QueuePaths, "cancelDir">,
  jobId: string,
  pathApi: Join = path,
): string {
  return pathApi.join(queue.cancelDir, `${jobId}.json`);
}

/** `.state/fetched/<job_id>.json`: the receipt that acknowledges a hand-off to the post-processing agent. */
export function fetchReceiptPath(
  queue: Pick<QueuePaths, "fetchedDir">,
  jobId: string,
  pathApi: Join = path,
): string {
  return pathApi.join(queue.fetchedDir, `${jobId}.json`);
}

/**
 * A cancel request as found: none, valid, or present but unusable. An unusable request still means
 * someone asked: the runner cancels on it and says the request could not be read (`unreadable`: the
 * file could not be read or is not JSON; `invalid`: JSON that is not a cancel request).
 */
export type CancelRead =
  | { kind: "absent" }
  | { kind: "ok"; request: CancelRequest }
  | { kind: "unreadable"; problem: string }
  | { kind: "invalid"; problem: string };

/** Reads a job's cancel request without throwing (a link or special file there is `unreadable`). */
export async function readCancelRequest(
  queue: Pick<QueuePaths, "cancelDir">,
  jobId: string,
  pathApi: Join = path,
): Promise<CancelRead> {
  let raw: unknown;
  try {
    raw = await readJsonFile(cancelRequestPath(queue, jobId, pathApi));
  } catch (error) {
    const code = errnoCode(error);
    if (code === "ENOENT" || code === "ENOTDIR") return { kind: "absent" };
    return { kind: "unreadable", problem: error instanceof Error ? error.message : String(error) };
  }
  const parsed = CancelRequestSchema.safeParse(raw);
  return parsed.success
    ? { kind: "ok", request: parsed.data }
    : { kind: "invalid", problem: describeZodError(parsed.error) };
}

/** Whether an agent has fetched the job's complete results (its receipt exists). */
export async function hasFetchReceipt(
  queue: Pick<QueuePaths, "fetchedDir">,
  jobId: string,
): Promise<boolean> {
  return pathExists(fetchReceiptPath(queue, jobId));
}
