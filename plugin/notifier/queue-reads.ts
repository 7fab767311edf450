import { readdir } from "node:fs/promises";
import { join } from "node:path";
import type { Job, QueuePaths } from "../../protocol/index.ts";
import {
  errnoCode,
  isJobId,
  LOG_FILE,
  parseArchiveDirName,
  pathExists,
  readJob,
} from "../../protocol/index.ts";
import type { JobOutcome } from "./job-outcome.ts";
import { readJobOutcome } from "./job-outcome.ts";
import { readLastLines } from "./log-tail.ts";
import type { Acknowledgement } from "./notification-policy.ts";

/** What the notifier's parts read of the queue; handed to them, so none of them knows where it comes from. */
export interface NotifierReads {
  /** Whether the job has ended as far as this side can prove. */
  outcome(id: string): Promise<JobOutcome>;
  /** The job's inbox job.json, or undefined when it is missing or invalid. */
  job(id: string): Promise<Job | undefined>;
  /** The last lines of the job's log, for a failed job's message. */
  logTail(id: string): Promise<string[]>;
  /** How the submitting side took the job's results (`archived`: ids from one listing, to spare a listing per job). */
  acknowledgement(id: string, archived?: ReadonlySet<string>): Promise<Acknowledgement>;
  /** Jobs with an archive/ folder. */
  archivedIds(): Promise<Set<string>>;
  /** Jobs with an inbox/ folder; undefined when inbox/ does not exist (yet). */
  inboxIds(): Promise<string[] | undefined>;
}

/** The job an archive/ folder holds, when its name is `<job_id>-<UTC stamp>`. */
export function archivedJobId(name: string): string | undefined {
  const id = parseArchiveDirName(name)?.job_id;
  return id !== undefined && isJobId(id) ? id : undefined;
}

async function listDir(dir: string): Promise<string[] | undefined> {
  try {
    return await readdir(dir);
  } catch (error) {
    if (errnoCode(error) === "ENOENT") return undefined;
    throw error;
  }
}

/** NotifierReads straight from the queue's folders. */
export function folderReads(queue: QueuePaths): NotifierReads {
  const archivedIds = async () =>
    new Set((await listDir(queue.archive))?.map(archivedJobId).filter((id) => id !== undefined));
  return {
    outcome: (id) => readJobOutcome(queue.inbox, id),
    async job(id) {
      try {
        // readJob refuses a linked job folder, a linked or special job.json and bad bytes alike.
        return await readJob(join(queue.inbox, id));
      } catch {
        return undefined;
      }
    },
    logTail: (id) => readLastLines(join(queue.inbox, id, LOG_FILE), 16 * 1024, 8),
    async acknowledgement(id, archived) {
      if (await pathExists(join(queue.fetchedDir, `${id}.json`))) return "receipt";
      if ((archived ?? (await archivedIds())).has(id)) return "archive";
      return undefined;
    },
    archivedIds,
    async inboxIds() {
      return (await listDir(queue.inbox))?.filter((name) => isJobId(name));
    },
  };
}
