import { z } from "zod";
import type { Job, TerminalStatus } from "../protocol/index.ts";
import { IsoTimeSchema, JobSchema, JobStatusSchema, TerminalStatusSchema } from "../protocol/index.ts";

export const StopReasonSchema = z.object({
  kind: z.enum(["timeout", "cancelled", "runner_restart"]),
  message: z.string(),
});

/**
 * What the ledger records. `accepted` is written before the job is published as queued, `started` before
 * its process is spawned, so after any crash a job is either known (never run again) or never seen.
 */
export const LedgerRecordSchema = z.discriminatedUnion("event", [
  z.object({ event: z.literal("accepted"), job_id: z.string(), at: IsoTimeSchema, job: JobSchema }),
  /** Closed before it could run: rejected, incomplete or cancelled. `job` is its final inbox job.json. */
  z.object({
    event: z.literal("refused"),
    job_id: z.string(),
    at: IsoTimeSchema,
    status: TerminalStatusSchema,
    job: JobSchema,
  }),
  /** Written before the run's supervisor is launched. `supervised` is absent in ledgers of runner 0.1. */
  z.object({
    event: z.literal("started"),
    job_id: z.string(),
    at: IsoTimeSchema,
    supervised: z.boolean().optional(),
  }),
  /** Runner 0.1 only: the script's bare pid (supervised runs keep their identities in the run folder). */
  z.object({
    event: z.literal("pid"),
    job_id: z.string(),
    at: IsoTimeSchema,
    pid: z.number().int().positive(),
  }),
  /** The runner decided to end a run (cancel, timeout): written before the kill, so a restart knows why it ended. */
  z.object({ event: z.literal("stopping"), job_id: z.string(), at: IsoTimeSchema, reason: StopReasonSchema }),
  /** A started run whose script provably never launched (its request was withdrawn): it may start again. */
  z.object({ event: z.literal("requeued"), job_id: z.string(), at: IsoTimeSchema, reason: z.string() }),
  /**
   * Learnt from inbox/ (the queue's own record) because this ledger did not know the job: a final
   * status, or `foreign` for a live job this runner cannot adopt (another runner's, or records lost).
   * Either way the job is never started from here.
   */
  z.object({
    event: z.literal("imported"),
    job_id: z.string(),
    at: IsoTimeSchema,
    inbox_status: JobStatusSchema,
    status: TerminalStatusSchema.optional(),
  }),
  /** Found in outbox/ with a folder of it in archive/: a replay of a finished job, never started. */
  z.object({ event: z.literal("archived"), job_id: z.string(), at: IsoTimeSchema }),
  z.object({
    event: z.literal("finished"),
    job_id: z.string(),
    at: IsoTimeSchema,
    status: TerminalStatusSchema,
  }),
  z.object({ event: z.literal("cleaned"), job_id: z.string(), at: IsoTimeSchema }),
]);
export type LedgerRecord = z.infer<typeof LedgerRecordSchema>;

/** Everything the ledger knows about one job id. */
export interface LedgerEntry {
  job_id: string;
  accepted_at: string;
  /**
   * The job as first published (queued), or its final form when it was refused. Dropped once a run has
   * finished (and for refused jobs once cleaned): recovery never needs it again.
   */
  job?: Job;
  refused: boolean;
  started_at?: string;
  /** The run has a supervisor and a run folder (false: started by runner 0.1, pid only). */
  supervised?: boolean;
  pid?: number;
  /** Why the runner is ending the run, once it decided to. */
  stop?: z.infer<typeof StopReasonSchema> & { at: string };
  /** Times a started run was taken back because it never launched. */
  requeues?: number;
  /** Live elsewhere or unknowable: never started or changed by this runner. */
  foreign?: boolean;
  finished_at?: string;
  status?: TerminalStatus;
  cleaned_at?: string;
}

/**
 * Where an entry stands, for the ledger's queries: `live` (accepted here, not finished: what recovery
 * brings back), `foreign`, `finished` (not cleaned yet: what cleanup looks at) or `cleaned`.
 */
export type EntryState = "live" | "foreign" | "finished" | "cleaned";

export function entryState(entry: LedgerEntry): EntryState {
  if (entry.cleaned_at !== undefined) return "cleaned";
  if (entry.status !== undefined) return "finished";
  return entry.foreign ? "foreign" : "live";
}

/** An entry for a job the ledger cannot say anything more about: never started from here. */
export function foreignEntry(jobId: string, at: string): LedgerEntry {
  return { job_id: jobId, accepted_at: at, refused: false, foreign: true };
}

/** A record that begins a job's entry (the runner writes one only for an id its ledger does not know). */
function opensEntry(record: LedgerRecord): LedgerEntry | undefined {
  if (record.event === "imported")
    return record.status
      ? {
          job_id: record.job_id,
          accepted_at: record.at,
          refused: false,
          finished_at: record.at,
          status: record.status,
        }
      : foreignEntry(record.job_id, record.at);
  if (record.event === "archived") return foreignEntry(record.job_id, record.at);
  if (record.event === "accepted")
    return { job_id: record.job_id, accepted_at: record.at, job: record.job, refused: false };
  if (record.event === "refused")
    return {
      job_id: record.job_id,
      accepted_at: record.at,
      job: record.job,
      refused: true,
      finished_at: record.at,
      status: record.status,
    };
  return undefined;
}

/**
 * The entry after `record`, or undefined when the record is about a job the ledger does not know (and
 * opens no entry). `entry` is not changed. A record that opens an entry never reopens a job already
 * finished or foreign: the runner writes none such, and a ledger merged from an older copy
 * (ledger-import.ts) must resolve toward not running a job again.
 */
export function applyRecord(entry: LedgerEntry | undefined, record: LedgerRecord): LedgerEntry | undefined {
  const opened = opensEntry(record);
  if (opened) return entry && entryState(entry) !== "live" ? entry : opened;
  if (!entry) return undefined;
  const next: LedgerEntry = { ...entry };
  if (record.event === "started") {
    next.started_at = record.at;
    next.supervised = record.supervised === true;
  } else if (record.event === "pid") next.pid = record.pid;
  else if (record.event === "stopping") next.stop = { ...record.reason, at: record.at };
  else if (record.event === "requeued") {
    delete next.started_at;
    delete next.stop;
    next.requeues = (next.requeues ?? 0) + 1;
  } else if (record.event === "finished") {
    next.finished_at = record.at;
    next.status = record.status;
    delete next.job;
  } else {
    next.cleaned_at = record.at;
    delete next.job;
  }
  return next;
}
