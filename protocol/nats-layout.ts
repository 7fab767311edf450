// The NATS JetStream layout of the queue (docs/PROTOCOL.md, "Several workstations"): bucket, stream
// and key names and the records stored under them, written once for both sides. Both sides keep the
// folder protocol on a local folder; NATS carries its files between them, and KV compare-and-set on
// the claim record decides which runner starts a job. The KV entry is the truth: the work-queue
// message only wakes a runner, and a late ack of an old delivery (nats-server issue 4786) cannot
// undo a claim.
import { z } from "zod";
import { LabelNameSchema, LabelsSchema } from "./job-labels.ts";
import { IsoTimeSchema, TerminalStatusSchema } from "./job-schema.ts";

export const NATS_KV_BUCKET = "atomizer";
export const NATS_OBJECT_BUCKET = "atomizer-files";
export const NATS_DISPATCH_STREAM = "ATOMIZER_DISPATCH";
export const NATS_DISPATCH_SUBJECT = "atomizer.dispatch";
export const NATS_DISPATCH_CONSUMER = "runners";

/** The part of a job a KV key or object name is about. */
export type JobPart = "sub" | "claim" | "run" | "cancel" | "fetch" | "archived";

/** `job.<id>.<part>`; job ids (`job-YYYYMMDD-HHMMSS-slug`) are valid KV key tokens. */
export function jobKey(jobId: string, part: JobPart): string {
  return `job.${jobId}.${part}`;
}

/** Splits a `job.<id>.<part>` key; undefined for any other key. */
export function parseJobKey(key: string): { jobId: string; part: JobPart } | undefined {
  const match = /^job\.([a-z0-9-]+)\.(sub|claim|run|cancel|fetch|archived)$/.exec(key);
  return match ? { jobId: match[1] as string, part: match[2] as JobPart } : undefined;
}

export function runnerKey(host: string): string {
  return `runner.${host}`;
}

export function licenceKey(licenceClass: string): string {
  return `licence.${licenceClass}`;
}

/** Which side's files an object holds: the submission (`sub`) or the runner's inbox copy (`run`). */
export type FileSide = "sub" | "run";

/**
 * `<id>/<side>/<posix relative path>`, or `<id>/<side>/<upload>/<path>` for the files of one upload
 * (a submission's, so two submitters racing for one id never write the same objects).
 */
export function objectName(jobId: string, side: FileSide, relPath: string, upload?: string): string {
  return upload === undefined ? `${jobId}/${side}/${relPath}` : `${jobId}/${side}/${upload}/${relPath}`;
}

export type { Labels } from "./job-labels.ts";
export { LabelNameSchema, LabelsSchema } from "./job-labels.ts";

/** One file carried through the Object Store, as the folder had it. */
export const IndexedFileSchema = z.object({
  path: z.string().min(1),
  size: z.number().int().nonnegative(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  object: z.string().min(1),
});
export type IndexedFile = z.infer<typeof IndexedFileSchema>;
export const FileIndexSchema = z.array(IndexedFileSchema);
export type FileIndex = z.infer<typeof FileIndexSchema>;

/** `job.<id>.sub`: the submitted job.json, byte for byte, and every other file of the submission. */
export const SubmissionRecordSchema = z.object({
  job: z.string().min(1),
  files: FileIndexSchema,
  /** Labels a runner must have to take the job. */
  labels: LabelsSchema.optional(),
  /** Licence classes the job holds while it runs (from the pool `licence.<class>`). */
  licences: z.array(LabelNameSchema).optional(),
  submitted_at: IsoTimeSchema,
});
export type SubmissionRecord = z.infer<typeof SubmissionRecordSchema>;

/** `job.<id>.claim`: who may start the job. Each state carries its own timestamps. */
export const ClaimRecordSchema = z.discriminatedUnion("state", [
  z.object({
    state: z.literal("queued"),
    queued_at: IsoTimeSchema,
    /** Claims made so far (0 at submission; a requeue keeps counting). */
    attempt: z.number().int().nonnegative(),
  }),
  z.object({
    state: z.literal("claimed"),
    host: z.string().min(1),
    attempt: z.number().int().positive(),
    claimed_at: IsoTimeSchema,
    /** The claim holds until then unless renewed; a lapsed claim is never taken over automatically. */
    lease_until: IsoTimeSchema,
  }),
  z.object({
    state: z.literal("done"),
    host: z.string().min(1),
    attempt: z.number().int().positive(),
    outcome: TerminalStatusSchema,
    claimed_at: IsoTimeSchema,
    done_at: IsoTimeSchema,
  }),
]);
export type ClaimRecord = z.infer<typeof ClaimRecordSchema>;

/** `job.<id>.run`: the runner's inbox job.json, byte for byte, and its other files. Written by the claim's host only. */
export const RunRecordSchema = z.object({
  host: z.string().min(1),
  attempt: z.number().int().positive(),
  job: z.string().min(1),
  files: FileIndexSchema,
  updated_at: IsoTimeSchema,
});
export type RunRecord = z.infer<typeof RunRecordSchema>;

/** `job.<id>.cancel`, `job.<id>.fetch`, `runner.<host>`: a protocol file carried byte for byte. */
export const CarriedFileSchema = z.object({ text: z.string().min(1), written_at: IsoTimeSchema });
export type CarriedFile = z.infer<typeof CarriedFileSchema>;

/** `job.<id>.archived`: the job was archived on a submitting machine (the copy stays there). */
export const ArchivedRecordSchema = z.object({
  name: z.string().min(1),
  archived_at: IsoTimeSchema,
  by: z.string().min(1),
});
export type ArchivedRecord = z.infer<typeof ArchivedRecordSchema>;

/** `licence.<class>`: the pool-wide limit and who holds a licence now, taken and returned by CAS. */
export const LicencePoolSchema = z.object({
  limit: z.number().int().nonnegative(),
  held: z.record(z.string(), z.object({ host: z.string().min(1), at: IsoTimeSchema })),
});
export type LicencePool = z.infer<typeof LicencePoolSchema>;
