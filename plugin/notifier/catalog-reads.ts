import { join } from "node:path";
import type { Job } from "../../protocol/index.ts";
import { LOG_FILE, readLogTail } from "../../protocol/index.ts";
import type { CatalogRow, JobCatalog, JobFolder } from "../../submitter/catalog/job-catalog.ts";
import type { JobOutcome } from "./job-outcome.ts";
import { outcomeOf } from "./job-outcome.ts";
import type { Acknowledgement } from "./notification-policy.ts";

/** What one read of a job tells the notifier. */
export interface JobFacts {
  outcome: JobOutcome;
  acknowledged: Acknowledgement;
  /** The runner's job.json is there (inbox/<id>/ for the folder queue): the job has not left the runner's side. */
  atRunner: boolean;
}

/** The runner's job.json, for a message, with the log's end when the message wants it. */
export interface RunnerJob {
  job: Job;
  logLines(): Promise<string[]>;
}

/** What the notifier's parts read of the queue, all of it through the job catalog. */
export interface NotifierReads {
  facts(id: string): Promise<JobFacts>;
  runnerJob(id: string): Promise<RunnerJob | undefined>;
  /** Every job the catalog knows, for the safety-net rescan. */
  rows(): Promise<readonly Pick<CatalogRow, "job_id" | "state">[]>;
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

/**
 * NotifierReads over the watched catalog; `storage` is a catalog that lists the storage itself (the
 * disk catalog), so a rescan also finds jobs the watched index has not heard of yet.
 */
export function catalogReads(catalog: JobCatalog, storage: Pick<JobCatalog, "ids">): NotifierReads {
  return {
    async facts(id) {
      const record = await catalog.get(id);
      return {
        outcome: outcomeOf(record),
        acknowledged: record.acknowledged,
        atRunner: record.runner.kind !== "absent",
      };
    },
    async runnerJob(id) {
      const record = await catalog.get(id);
      const folder = record.folders.runner;
      if (record.runner.kind !== "ok") return undefined;
      return { job: record.runner.job, logLines: async () => (folder ? logLinesOf(folder) : []) };
    },
    async rows() {
      const [listing, stored] = await Promise.all([catalog.list(), storage.ids()]);
      const indexed = new Set(listing.rows.map((row) => row.job_id));
      const missed = stored
        .filter((id) => !indexed.has(id))
        .map((job_id) => ({ job_id, state: "unknown" as const }));
      return [...listing.rows, ...missed];
    },
  };
}
