import type { Job } from "../../protocol/index.ts";
import { parseArchiveDirName } from "../../protocol/index.ts";
import type { JobRead } from "../jobs/job-files.ts";
import { deriveState } from "../jobs/job-state.ts";
import type { CatalogRow } from "./job-catalog.ts";

/** A job's job.json reads: the submission, the runner's copy, and its archived copies by name. */
export interface JobReads {
  outbox: JobRead;
  inbox: JobRead;
  archives: ReadonlyMap<string, JobRead>;
}

function jobOf(read: JobRead | undefined): Job | undefined {
  return read?.kind === "ok" ? read.job : undefined;
}

/** The list row the reads prove: state by PROTOCOL.md section 4, the rest from the job.json that speaks for it. */
export function summarizeRow(jobId: string, reads: JobReads, change: number): CatalogRow {
  const inbox = jobOf(reads.inbox);
  const outbox = jobOf(reads.outbox);
  const latestArchive = [...reads.archives.keys()].sort().at(-1);
  const archived = latestArchive ? jobOf(reads.archives.get(latestArchive)) : undefined;
  const state = deriveState({
    outbox: reads.outbox.kind !== "absent",
    inboxStatus: inbox?.status,
    archived: latestArchive !== undefined,
  });
  const source = state === "archived" ? (archived ?? inbox ?? outbox) : (inbox ?? outbox ?? archived);
  const problems = [reads.outbox, reads.inbox]
    .filter((read): read is { kind: "invalid"; problem: string } => read.kind === "invalid")
    .map((read) => read.problem);
  const row: CatalogRow = { job_id: jobId, state, seq: inbox?.seq ?? 0, change };
  if (source) {
    row.project = source.project;
    row.created_by = source.created_by;
    row.created_at = source.created_at;
    if (source.progress?.trials_complete !== undefined) row.trials_complete = source.progress.trials_complete;
    if (source.progress?.trials_planned !== undefined) row.trials_planned = source.progress.trials_planned;
    if (source.progress?.best_value !== undefined) row.best_value = source.progress.best_value;
    if (source.error?.kind) row.error_kind = source.error.kind;
    if (source.finished_at) row.finished_at = source.finished_at;
    if (source.idempotency_key) row.idempotency_key = source.idempotency_key;
  }
  if (state === "archived" && latestArchive) {
    const parsed = parseArchiveDirName(latestArchive);
    if (parsed) row.archived_at = parsed.archived_at;
  }
  if (problems.length > 0) row.problem = problems.join("; ");
  return row;
}

/** The row of a job with no files at all. */
export function unknownRow(jobId: string, seq: number, change: number): CatalogRow {
  return { job_id: jobId, state: "unknown", seq, change };
}

/** What makes a row changed: everything but the counters (a heartbeat's seq bump alone is no change). */
export function rowFingerprint(row: CatalogRow): string {
  const { change: _change, seq: _seq, ...rest } = row;
  return JSON.stringify(rest);
}
