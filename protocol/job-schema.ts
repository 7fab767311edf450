import { z } from "zod";
import { LabelsSchema } from "./job-labels.ts";
import { MAX_MANIFEST_ENTRIES, MAX_TRUSTED_KEYS } from "./limits.ts";

/**
 * Version of the on-disk protocol this code writes. Readers accept jobs without it (plain SYS_19) and
 * v1 jobs; v2 adds the optional signatures (docs/PROTOCOL.md, "Signatures"), which a runner that trusts
 * keys requires, whatever the version a job claims.
 */
export const SCHEMA_VERSION = 2;

export const JOB_STATUSES = ["submitted", "queued", "running", "completed", "failed", "cancelled"] as const;
export const JobStatusSchema = z.enum(JOB_STATUSES);
export type JobStatus = z.infer<typeof JobStatusSchema>;

/** The statuses a job never leaves (docs/PROTOCOL.md): every side's "has it ended" check is this list. */
export const TERMINAL_STATUSES = ["completed", "failed", "cancelled"] as const satisfies readonly JobStatus[];
export const TerminalStatusSchema = z.enum(TERMINAL_STATUSES);
export type TerminalStatus = z.infer<typeof TerminalStatusSchema>;

export const ERROR_KINDS = [
  "exit_code",
  "timeout",
  "cancelled",
  "rejected",
  "incomplete_transfer",
  "runner_restart",
  "spawn_error",
  "invalid_job",
  /** Refused by a runner that runs only signed jobs: unsigned, unknown key, or changed after signing. */
  "untrusted",
  "internal",
] as const;
export const ErrorKindSchema = z.enum(ERROR_KINDS);
export type ErrorKind = z.infer<typeof ErrorKindSchema>;

const Sha256Schema = z.string().regex(/^[0-9a-f]{64}$/, "sha256 must be 64 lowercase hex digits");
/** An ISO 8601 time with a zone (`Z` or an offset): every time the queue and its ledgers record. */
export const IsoTimeSchema = z.iso.datetime({ offset: true });

// Loose like every other object here: a newer writer's extra per-file fields survive a read-modify-write.
export const FileEntrySchema = z.looseObject({
  path: z.string().min(1),
  size: z.number().int().nonnegative(),
  sha256: Sha256Schema,
});
export type FileEntry = z.infer<typeof FileEntrySchema>;

/** A manifest: bounded, so a hostile job.json cannot make a reader stat and hash millions of paths. */
const ManifestSchema = z
  .array(FileEntrySchema)
  .max(
    MAX_MANIFEST_ENTRIES,
    `a manifest lists at most ${MAX_MANIFEST_ENTRIES} files (MAX_MANIFEST_ENTRIES); pack small files into an archive`,
  );

export const NotifySchema = z.looseObject({
  on_complete: z.boolean(),
  on_fail: z.boolean(),
});
export type Notify = z.infer<typeof NotifySchema>;

export const JobErrorSchema = z.looseObject({
  kind: ErrorKindSchema.or(z.string().min(1)),
  message: z.string(),
  missing_files: z.array(z.string()).optional(),
  log_tail: z.array(z.string()).optional(),
});
export type JobError = z.infer<typeof JobErrorSchema>;

/** Progress as the runner reports it; the same fields a script may write to 3_results/progress.json. */
export const ProgressSchema = z.looseObject({
  source: z.enum(["progress.json", "study.db"]).optional(),
  trials_planned: z.number().int().nonnegative().nullable().optional(),
  trials_complete: z.number().int().nonnegative().optional(),
  trials_pruned: z.number().int().nonnegative().optional(),
  trials_failed: z.number().int().nonnegative().optional(),
  trials_running: z.number().int().nonnegative().optional(),
  best_value: z.number().nullable().optional(),
  best_values: z.array(z.number()).nullable().optional(),
  best_params: z.record(z.string(), z.unknown()).nullable().optional(),
  best_trial: z.number().int().nullable().optional(),
  last_trial_at: z.string().nullable().optional(),
  message: z.string().optional(),
  updated_at: z.string().optional(),
});
export type Progress = z.infer<typeof ProgressSchema>;

export const RunnerInfoSchema = z.looseObject({
  host: z.string().min(1),
  version: z.string().min(1),
  /** How often the runner rewrites a running job's job.json; a heartbeat older than 3x this is stale. */
  heartbeat_s: z.number().positive().optional(),
});
export type RunnerInfo = z.infer<typeof RunnerInfoSchema>;

export const ResultsManifestSchema = z.looseObject({
  files: ManifestSchema,
  published_at: IsoTimeSchema,
});
export type ResultsManifest = z.infer<typeof ResultsManifestSchema>;

/**
 * job.json. The seed's fields (SYS_19) keep their names and meaning; everything else is optional so
 * a plain SYS_19 job still reads. Loose objects keep unknown fields through a read-modify-write.
 */
export const JobSchema = z.looseObject({
  // SYS_19 seed fields
  job_id: z.string().min(1),
  created_at: IsoTimeSchema,
  created_by: z.string().min(1),
  project: z.string().min(1),
  channel: z.string(),
  type: z.string().min(1),
  script: z.string().min(1),
  args: z.array(z.string()),
  status: JobStatusSchema,
  notify: NotifySchema,
  // added by protocol v1, written by the submitter
  schema_version: z.number().int().positive().optional(),
  files: ManifestSchema.optional(),
  timeout_s: z.number().int().positive().optional(),
  idempotency_key: z.string().min(1).max(200).optional(),
  /** The earlier job whose 3_results/study.db this job carries (listed in `files`) to continue its study. */
  resumed_from: z.string().min(1).optional(),
  /** Labels a runner must have to take the job (the NATS backend; the folder queue has one runner). */
  labels: LabelsSchema.optional(),
  // written only by the runner (in inbox/<job_id>/job.json)
  seq: z.number().int().nonnegative().optional(),
  queued_at: IsoTimeSchema.optional(),
  started_at: IsoTimeSchema.optional(),
  finished_at: IsoTimeSchema.optional(),
  heartbeat_at: IsoTimeSchema.optional(),
  /** A queued job the runner holds back, and why ("licence server 28000@lic1 not answering since ..."). */
  waiting_for: z.string().min(1).optional(),
  runner: RunnerInfoSchema.optional(),
  exit_code: z.number().int().nullable().optional(),
  error: JobErrorSchema.optional(),
  progress: ProgressSchema.optional(),
  results: ResultsManifestSchema.optional(),
});
export type Job = z.infer<typeof JobSchema>;

/** What a protocol-v1 submitter must write: the manifest is what makes a job verifiable. */
export const SubmittedJobSchema = JobSchema.extend({
  schema_version: z.number().int().positive(),
  files: ManifestSchema,
});
export type SubmittedJob = z.infer<typeof SubmittedJobSchema>;

/** Runner heartbeat file inbox/.runners/<host>.json. */
export const RunnerHeartbeatSchema = z.looseObject({
  host: z.string().min(1),
  version: z.string().min(1),
  pid: z.number().int().optional(),
  slots: z.number().int().positive(),
  running: z.array(z.string()),
  queued: z.array(z.string()),
  started_at: IsoTimeSchema,
  last_seen: IsoTimeSchema,
  interval_s: z.number().positive(),
  /** What the runner's held queued jobs wait for (a licence server); absent when nothing waits. */
  waiting_for: z.string().min(1).optional(),
  /** Set by a runner's last heartbeat when it shuts down cleanly: it is stopped, not silent. */
  stopped_at: IsoTimeSchema.optional(),
  /** Key ids of the submitters' public keys the runner trusts: present, it runs only jobs they signed. */
  trusted_keys: z.array(z.string().min(1)).max(MAX_TRUSTED_KEYS).optional(),
  /** Key id of the runner's own key, which signs its inbox records (`runner_signature`). */
  record_key: z.string().min(1).optional(),
});
export type RunnerHeartbeat = z.infer<typeof RunnerHeartbeatSchema>;

/** Cancel request outbox/.cancel/<job_id>.json, written by the submitting side. */
export const CancelRequestSchema = z.looseObject({
  job_id: z.string().min(1),
  requested_at: IsoTimeSchema,
  requested_by: z.string().min(1),
  reason: z.string().optional(),
});
export type CancelRequest = z.infer<typeof CancelRequestSchema>;

/**
 * Receipt `<root>/.state/fetched/<job_id>.json`, written by the submitting side when an agent fetched
 * a job's complete, verified results: what acknowledges a hand-off to the post-processing agent.
 */
export const FetchReceiptSchema = z.looseObject({
  job_id: z.string().min(1),
  fetched_at: IsoTimeSchema,
  fetched_by: z.string().min(1),
  status: JobStatusSchema,
});
export type FetchReceipt = z.infer<typeof FetchReceiptSchema>;

/** Formats a zod error as one line per problem, naming the field, for people and models alike. */
export function describeZodError(error: z.ZodError): string {
  return error.issues
    .map((issue) => `${issue.path.length > 0 ? issue.path.join(".") : "(root)"}: ${issue.message}`)
    .join("; ");
}
