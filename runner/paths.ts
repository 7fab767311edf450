import path from "node:path";
import type { QueuePaths } from "../protocol/index.ts";
import { cancelRequestPath, LOG_FILE, queuePaths, RESULTS_DIR } from "../protocol/index.ts";

export type PathApi = Pick<typeof path.posix, "join" | "relative" | "sep" | "dirname">;

/** A job-relative POSIX path ("1_setup/m1.prt") on the local disk; path.win32 gives backslashes. */
export function localPath(root: string, relative: string, pathApi: PathApi = path): string {
  return pathApi.join(root, ...relative.split("/"));
}

/** A local path below `root` as a job-relative POSIX path. */
export function toRelativePosix(root: string, full: string, pathApi: PathApi = path): string {
  return pathApi.relative(root, full).split(pathApi.sep).join("/");
}

/** Every folder and file the runner uses. Job ids are validated before they reach these. */
export interface RunnerPaths {
  queue: QueuePaths;
  workDir: string;
  stateDir: string;
  outboxJob(jobId: string): string;
  inboxJob(jobId: string): string;
  workJob(jobId: string): string;
  workLog(jobId: string): string;
  workResults(jobId: string): string;
  cancelRequest(jobId: string): string;
  runnerHeartbeat(host: string): string;
}

export function runnerPaths(
  queueDir: string,
  workDir: string,
  stateDir: string,
  pathApi: PathApi = path,
): RunnerPaths {
  const queue = queuePaths(queueDir, pathApi);
  return {
    queue,
    workDir,
    stateDir,
    outboxJob: (jobId) => pathApi.join(queue.outbox, jobId),
    inboxJob: (jobId) => pathApi.join(queue.inbox, jobId),
    workJob: (jobId) => pathApi.join(workDir, jobId),
    workLog: (jobId) => pathApi.join(workDir, jobId, LOG_FILE),
    workResults: (jobId) => pathApi.join(workDir, jobId, RESULTS_DIR),
    cancelRequest: (jobId) => cancelRequestPath(queue, jobId, pathApi),
    runnerHeartbeat: (host) => pathApi.join(queue.runnersDir, `${host}.json`),
  };
}
