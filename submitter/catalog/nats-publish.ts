import { randomUUID } from "node:crypto";
import { readFile } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import type { CancelRequest, FetchReceipt } from "../../protocol/index.ts";
import {
  CancelRequestSchema,
  isProtocolError,
  JOB_FILE,
  ProtocolError,
  parseJobBytes,
} from "../../protocol/index.ts";
import { createQueuedClaim } from "../../protocol/nats-claims.ts";
import type { NatsQueue } from "../../protocol/nats-connect.ts";
import type { ArchivedRecord, CarriedFile, SubmissionRecord } from "../../protocol/nats-layout.ts";
import { CarriedFileSchema, jobKey, NATS_DISPATCH_SUBJECT, objectName } from "../../protocol/nats-layout.ts";
import { deleteObjects, uploadTree } from "../../protocol/nats-objects.ts";
import { createRecord, encodeRecord, readRecord, updateRecord } from "../../protocol/nats-records.ts";

// The submitting side's writes to NATS (docs/PROTOCOL.md, "Several workstations"). KV is the truth:
// a submission exists once `job.<id>.sub` does, created with kv.create so of two submitters racing
// for one id exactly one wins. Small protocol files travel as their exact text, so every mirror and
// the runner's local queue hold the same bytes the writer wrote.

/** A protocol file's text as writeJsonAtomic writes it, so the mirror and KV carry the same bytes. */
export function jsonText(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

function carried(text: string, at: Date): CarriedFile {
  return { text, written_at: at.toISOString() };
}

/** Whether NATS knows the id: submitted, claimed, at a runner or archived somewhere. */
export async function takenInNats(nats: NatsQueue, jobId: string): Promise<boolean> {
  for (const part of ["sub", "claim", "run", "archived"] as const) {
    const entry = await nats.kv.get(jobKey(jobId, part));
    if (entry !== null && entry.operation === "PUT") return true;
  }
  return false;
}

/**
 * Publishes a staged submission: its files to the Object Store, `job.<id>.sub` (exists: "taken"),
 * the queued claim, then the dispatch message that wakes a runner. A failure after the record was
 * created takes the record back out, so a refused submit leaves no job that no runner was told of.
 */
export async function publishToNats(
  nats: NatsQueue,
  jobId: string,
  staged: string,
  now: Date,
): Promise<"published" | "taken"> {
  // Checked again right before uploading: the objects of a job already under this id must not be overwritten.
  if (await takenInNats(nats, jobId)) return "taken";
  const text = await readFile(join(staged, JOB_FILE), "utf8");
  const job = parseJobBytes(Buffer.from(text, "utf8"), join(staged, JOB_FILE));
  // Objects go under a name of this upload's own: of two submitters racing for the id, the loser's
  // objects never overwrite the winner's, and the loser removes only its own.
  const upload = randomUUID().replaceAll("-", "").slice(0, 12);
  refuseOversizedRecord(nats, jobId, text, job.files ?? [], upload, now);
  let created: number | undefined;
  try {
    const record: SubmissionRecord = {
      job: text,
      files: await uploadTree(nats, staged, jobId, "sub", [], { upload }),
      ...(job.labels && Object.keys(job.labels).length > 0 ? { labels: job.labels } : {}),
      submitted_at: now.toISOString(),
    };
    created = await createRecord(nats.kv, jobKey(jobId, "sub"), record);
  } catch (error) {
    // No record names them: objects half uploaded would stay in the store for good.
    await deleteObjects(nats, jobId, "sub", upload).catch(() => undefined);
    throw error;
  }
  if (created === undefined) {
    await deleteObjects(nats, jobId, "sub", upload);
    return "taken";
  }
  try {
    await createQueuedClaim(nats.kv, jobId, now);
  } catch (error) {
    // A claim left by an earlier job of this id (archived, its claim not removed): the id is used.
    await withdraw(nats, jobId, upload, false);
    if (isProtocolError(error) && error.code === "conflict") return "taken";
    throw error;
  }
  try {
    await nats.js.publish(NATS_DISPATCH_SUBJECT, jobId, { msgID: jobId });
  } catch (error) {
    await withdraw(nats, jobId, upload, true).catch(() => undefined);
    throw new Error(
      `job ${jobId} could not be announced to the runners on ${nats.url} (${(error as Error).message}); it was taken back: submit again once the NATS server answers`,
      { cause: error },
    );
  }
  return "published";
}

/**
 * A submission record is one KV message, which the server caps (max_payload, 1 MB by default). Its
 * size is known from the manifest before anything is uploaded, so a study of too many files is
 * refused up front, saying what to do, instead of after a gigabyte of uploads.
 */
function refuseOversizedRecord(
  nats: NatsQueue,
  jobId: string,
  text: string,
  files: readonly { path: string; size: number; sha256?: string }[],
  upload: string,
  now: Date,
): void {
  const limit = nats.nc.info?.max_payload;
  if (limit === undefined) return;
  const estimate: SubmissionRecord = {
    job: text,
    files: files.map((file) => ({
      path: file.path,
      size: file.size,
      sha256: file.sha256 ?? "0".repeat(64),
      object: objectName(jobId, "sub", file.path, upload),
    })),
    submitted_at: now.toISOString(),
  };
  // Headroom for the message's own headers and the labels.
  const bytes = encodeRecord(estimate).length + 4096;
  if (bytes <= limit) return;
  throw new ProtocolError(
    "invalid_job",
    `this job's ${files.length} files need a ${Math.ceil(bytes / 1024)} KiB submission record, over the NATS server's max_payload of ${Math.floor(limit / 1024)} KiB: pack the many small files into fewer (an archive the script unpacks), or raise max_payload in the server's config (docs/deployment.md, "Several workstations")`,
    { jobId, files: files.length, bytes, max_payload: limit },
  );
}

/** Takes a just-created submission back out (its record, its claim when it is ours, its objects). */
async function withdraw(nats: NatsQueue, jobId: string, upload: string, claim: boolean): Promise<void> {
  if (claim) await nats.kv.delete(jobKey(jobId, "claim"));
  await nats.kv.delete(jobKey(jobId, "sub"));
  await deleteObjects(nats, jobId, "sub", upload);
}

function cancelOf(text: string): CancelRequest | undefined {
  try {
    const parsed = CancelRequestSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/**
 * `job.<id>.cancel`: created unless one stands that `keep` accepts; an unreadable one, or one `keep`
 * refuses (not signed by this side's key), is replaced by compare-and-set.
 */
export async function requestCancelInNats(
  nats: NatsQueue,
  request: CancelRequest,
  keep: (existing: CancelRequest) => boolean,
  now: Date,
): Promise<{ request: CancelRequest; already: boolean }> {
  const key = jobKey(request.job_id, "cancel");
  const record = carried(jsonText(request), now);
  for (let round = 0; round < 100; round++) {
    if ((await createRecord(nats.kv, key, record)) !== undefined) return { request, already: false };
    const current = await readRecord(nats.kv, key, CarriedFileSchema).catch(() => undefined);
    if (current === undefined) {
      // Deleted meanwhile (retired), or not a carried file at all: put ours over whatever is there.
      await nats.kv.put(key, encodeRecord(record));
      return { request, already: false };
    }
    const existing = cancelOf(current.value.text);
    if (existing && keep(existing)) return { request: existing, already: true };
    if ((await updateRecord(nats.kv, key, record, current.revision)) !== undefined)
      return { request, already: false };
  }
  throw new Error(`${key} keeps changing under this cancel request: another process rewrites it; try again`);
}

export async function recordFetchInNats(nats: NatsQueue, receipt: FetchReceipt, now: Date): Promise<void> {
  await nats.kv.put(jobKey(receipt.job_id, "fetch"), encodeRecord(carried(jsonText(receipt), now)));
}

export async function recordArchiveInNats(
  nats: NatsQueue,
  jobId: string,
  name: string,
  archivedAt: string,
): Promise<void> {
  const record: ArchivedRecord = { name, archived_at: archivedAt, by: hostname() };
  await nats.kv.put(jobKey(jobId, "archived"), encodeRecord(record));
}

/**
 * After archiving: the submission's record, claim, cancel request and objects go. Deleting `.sub` is
 * what tells the runner to drop its copy; it deletes `.run` and the run objects once it has.
 */
export async function retireInNats(nats: NatsQueue, jobId: string): Promise<void> {
  await nats.kv.delete(jobKey(jobId, "sub"));
  await nats.kv.delete(jobKey(jobId, "claim"));
  await nats.kv.delete(jobKey(jobId, "cancel"));
  await deleteObjects(nats, jobId, "sub");
}
