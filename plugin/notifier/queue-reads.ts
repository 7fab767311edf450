import { join } from "node:path";
import type { Job, QueuePaths } from "../../protocol/index.ts";
import {
  archivedJobIds,
  hasFetchReceipt,
  jobFolderNames,
  jobOf,
  LOG_FILE,
  pathExists,
  readJobAt,
  readLogTail,
} from "../../protocol/index.ts";
import type { JobOutcome } from "./job-outcome.ts";
import { readJobOutcome } from "./job-outcome.ts";
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

/** A failed job's last log lines for its channel message: 8 non-empty lines from the log's last 16 KiB. */
export async function logLinesOf(jobDir: string, within: string): Promise<string[]> {
  const tail = await readLogTail(join(jobDir, LOG_FILE), {
    maxBytes: 16 * 1024,
    maxLines: 8,
    within,
    skipBlank: true,
  });
  // A link (to /etc/passwd) or a FIFO is never read: the message says so instead of quoting another file.
  if (tail.kind === "unsafe") return ["(log not shown: it is a link or special file)"];
  return tail.kind === "ok" ? tail.lines : [];
}

/** NotifierReads straight from the queue's folders. */
export function folderReads(queue: QueuePaths): NotifierReads {
  return {
    outcome: (id) => readJobOutcome(queue.inbox, id),
    job: async (id) => jobOf(await readJobAt(join(queue.inbox, id))),
    logTail: (id) => logLinesOf(join(queue.inbox, id), queue.inbox),
    async acknowledgement(id, archived) {
      if (await hasFetchReceipt(queue, id)) return "receipt";
      if ((archived ?? (await archivedJobIds(queue))).has(id)) return "archive";
      return undefined;
    },
    archivedIds: () => archivedJobIds(queue),
    async inboxIds() {
      return (await pathExists(queue.inbox)) ? await jobFolderNames(queue.inbox) : undefined;
    },
  };
}
