import { join } from "node:path";
import type { Job, JobStatus, TerminalStatus } from "../../protocol/index.ts";
import {
  describeManifestCheck,
  isProtocolError,
  isTerminal,
  JOB_FILE,
  readJobAt,
  verifyManifest,
} from "../../protocol/index.ts";

/** What the submitting side can prove about one inbox job right now. */
export type JobOutcome =
  | { kind: "absent" }
  | { kind: "unreadable"; reason: string }
  | { kind: "active"; status: JobStatus }
  /** Completed, but Syncthing is still delivering result files. */
  | { kind: "syncing"; job: Job; detail: string }
  /** Ended and, for completed jobs, every listed result file present with its size and hash. */
  | { kind: "ended"; job: Job; status: TerminalStatus; results: "verified" | "unchecked" | "none" };

/**
 * Reads inbox/<id>/job.json and decides whether the job has ended as far as this side can prove.
 * A failed or cancelled job counts as soon as job.json says so (there may be nothing more to come);
 * a completed one only once its results manifest verifies, because results may still be syncing.
 */
export async function readJobOutcome(inboxDir: string, jobId: string): Promise<JobOutcome> {
  const jobDir = join(inboxDir, jobId);
  const read = await readJobAt(jobDir);
  if (read.kind === "absent") return { kind: "absent" };
  if (read.kind === "invalid") return { kind: "unreadable", reason: read.problem };
  const { job } = read;
  const status = job.status;
  if (!isTerminal(status)) return { kind: "active", status };
  const manifest = job.results?.files;
  if (status !== "completed") return { kind: "ended", job, status, results: manifest ? "unchecked" : "none" };
  if (!manifest) return { kind: "ended", job, status, results: "none" };
  try {
    // Sizes first: while files are still arriving this is a cheap no, with no hashing.
    const sizes = await verifyManifest(jobDir, manifest, { sizesOnly: true });
    if (!sizes.complete) return { kind: "syncing", job, detail: describeManifestCheck(sizes) };
    const full = await verifyManifest(jobDir, manifest);
    if (!full.complete) return { kind: "syncing", job, detail: describeManifestCheck(full) };
  } catch (error) {
    if (isProtocolError(error))
      return { kind: "unreadable", reason: `${join(jobDir, JOB_FILE)}: ${error.message}` };
    throw error;
  }
  return { kind: "ended", job, status, results: "verified" };
}
