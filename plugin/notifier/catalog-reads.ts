import { join } from "node:path";
import type { DirStamp, Job } from "../../protocol/index.ts";
import {
  dirStamp,
  isJobId,
  jobFolderNames,
  LOG_FILE,
  readLogTail,
  sameStamp,
  settledStamp,
} from "../../protocol/index.ts";
import type {
  CatalogPage,
  CatalogQuery,
  JobCatalog,
  JobFolder,
  JobState,
} from "../../submitter/catalog/job-catalog.ts";
import type { JobOutcome } from "./job-outcome.ts";
import { outcomeOf } from "./job-outcome.ts";
import type { Acknowledgement } from "./notification-policy.ts";

/** What one read of a job tells the notifier. */
export interface JobFacts {
  outcome: JobOutcome;
  acknowledged: Acknowledgement;
  /** The runner's job.json is there (inbox/<id>/ for the folder queue): the job has not left the runner's side. */
  atRunner: boolean;
  /** What the files prove ("unknown": nothing of the job is left). */
  state: JobState;
}

/** The runner's job.json, for a message, with the log's end when the message wants it. */
export interface RunnerJob {
  job: Job;
  logLines(): Promise<string[]>;
}

/** What the notifier's parts read of the queue: through the job catalog, but for the safety net's look at inbox/. */
export interface NotifierReads {
  facts(id: string): Promise<JobFacts>;
  runnerJob(id: string): Promise<RunnerJob | undefined>;
  /** Up to `limit` rows changed after the counter `after` (all rows when undefined), oldest change first; `total`: all such rows. */
  changes(after: number | undefined, limit: number): Promise<CatalogPage>;
  /**
   * The jobs with a folder at the runner's side (inbox/), for finding one the catalog never heard of;
   * `ids` undefined when the folder's stamp proves the listing unchanged since `known`. `stamp`: the
   * one to pass next time (undefined while too fresh to trust).
   */
  runnerFolders(known: DirStamp | undefined): Promise<{ ids?: string[]; stamp?: DirStamp }>;
}

/** A failed job's last log lines for its channel message: 8 non-empty lines from the log's last 16 KiB. */
export async function logLinesOf(folder: JobFolder): Promise<string[]> {
  const tail = await readLogTail(join(folder.dir, LOG_FILE), {
    maxBytes: 16 * 1024,
    maxLines: 8,
    within: folder.within,
    skipBlank: true,
  });
  // A link (to /etc/passwd) or a FIFO is never read: the message says so instead of quoting another file.
  if (tail.kind === "unsafe") return ["(log not shown: it is a link or special file)"];
  return tail.kind === "ok" ? tail.lines : [];
}

/** NotifierReads over the watched job catalog; `inbox`: the folder queue's inbox/, listed only when its stamp moved. */
export function catalogReads(catalog: JobCatalog, inbox: string): NotifierReads {
  return {
    async facts(id) {
      const record = await catalog.get(id);
      return {
        outcome: outcomeOf(record),
        acknowledged: record.acknowledged,
        atRunner: record.runner.kind !== "absent",
        state: record.state,
      };
    },
    async runnerJob(id) {
      const record = await catalog.get(id);
      const folder = record.folders.runner;
      if (record.runner.kind !== "ok") return undefined;
      return { job: record.runner.job, logLines: async () => (folder ? logLinesOf(folder) : []) };
    },
    changes(after, limit) {
      const q: CatalogQuery = {
        order: "change",
        limit,
        ...(after === undefined ? {} : { changedAfter: after }),
      };
      return catalog.query(q);
    },
    async runnerFolders(known) {
      // Real time, not the engine's clock: it is compared with the folder's ctime.
      const listedAt = Date.now();
      const stamp = await dirStamp(inbox);
      if (sameStamp(stamp, known)) return { stamp: known };
      const ids = (await jobFolderNames(inbox)).filter((name) => isJobId(name));
      const settled = settledStamp(stamp, listedAt);
      return settled ? { ids, stamp: settled } : { ids };
    },
  };
}
