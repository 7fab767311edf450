import type { Job, JobStatus, TerminalStatus } from "../../protocol/index.ts";
import { isTerminal } from "../../protocol/index.ts";
import type { JobRecord } from "../../submitter/catalog/job-catalog.ts";

/** What the submitting side can prove about one job at the runner right now. */
export type JobOutcome =
  | { kind: "absent" }
  | { kind: "unreadable"; reason: string }
  | { kind: "active"; status: JobStatus }
  /** Completed, but Syncthing is still delivering result files. */
  | { kind: "syncing"; job: Job; detail: string }
  /** Ended and, for completed jobs, every listed result file present with its size and hash. */
  | { kind: "ended"; job: Job; status: TerminalStatus; results: "verified" | "unchecked" | "none" };

/**
 * Decides from the runner's job.json, as the catalog read it, whether the job has ended as far as this
 * side can prove. A failed or cancelled job counts as soon as job.json says so (there may be nothing
 * more to come); a completed one only once its results manifest verifies, because results may still be
 * syncing.
 */
export function outcomeOf(record: Pick<JobRecord, "runner" | "results">): JobOutcome {
  const { runner, results } = record;
  if (runner.kind === "absent") return { kind: "absent" };
  if (runner.kind === "invalid") return { kind: "unreadable", reason: runner.problem };
  const { job } = runner;
  const status = job.status;
  if (!isTerminal(status)) return { kind: "active", status };
  if (status !== "completed")
    return { kind: "ended", job, status, results: job.results ? "unchecked" : "none" };
  if (!job.results) return { kind: "ended", job, status, results: "none" };
  if (results.state === "verified") return { kind: "ended", job, status, results: "verified" };
  // "syncing", or anything short of verified (a sizes-only check): not proven yet.
  return { kind: "syncing", job, detail: "detail" in results ? results.detail : results.sync.summary };
}
