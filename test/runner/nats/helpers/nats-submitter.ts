// Plays the submitting side of the NATS backend with the core API only (no submitter code): uploads a
// job's files, creates `job.<id>.sub` and the queued claim, publishes the dispatch message; reads back
// claims and run records, and downloads and checks a finished job's results.
import { createHash } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import type { Job, SigningKey } from "../../../../protocol/index.ts";
import { buildManifest, makeJobId, parseJob, signJob } from "../../../../protocol/index.ts";
import { createQueuedClaim } from "../../../../protocol/nats-claims.ts";
import type { NatsQueue } from "../../../../protocol/nats-connect.ts";
import type { ClaimRecord, Labels, RunRecord, SubmissionRecord } from "../../../../protocol/nats-layout.ts";
import {
  CarriedFileSchema,
  ClaimRecordSchema,
  jobKey,
  NATS_DISPATCH_SUBJECT,
  RunRecordSchema,
} from "../../../../protocol/nats-layout.ts";
import { downloadTree, uploadTree } from "../../../../protocol/nats-objects.ts";
import { encodeRecord, readRecord } from "../../../../protocol/nats-records.ts";
import { submittedJob } from "../../helpers/make-job.ts";

export interface NatsJobSpec {
  name: string;
  /** The script's file name and its text. */
  script: string;
  scriptText: string;
  args?: string[];
  files?: Record<string, string>;
  labels?: Labels;
  licences?: string[];
  createdAt?: Date;
  /** Signs the job.json as the MCP server does (for runners with --trust-key). */
  sign?: SigningKey;
}

/** Submits a job as a NATS submitter does; its files are built under `scratch/submit/<id>/`. */
export async function submitOverNats(
  q: NatsQueue,
  scratch: string,
  spec: NatsJobSpec,
  options: { publish?: boolean } = {},
): Promise<string> {
  const createdAt = spec.createdAt ?? new Date();
  const jobId = makeJobId(spec.name, createdAt);
  const dir = path.join(scratch, "submit", jobId);
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, spec.script), spec.scriptText);
  for (const [relative, content] of Object.entries(spec.files ?? {})) {
    const target = path.join(dir, ...relative.split("/"));
    await mkdir(path.dirname(target), { recursive: true });
    await writeFile(target, content);
  }
  const manifest = await buildManifest(dir);
  const plain = submittedJob(
    jobId,
    { name: spec.name, fixture: spec.script, args: spec.args ?? [] },
    manifest,
    createdAt,
  );
  const job = spec.sign ? signJob({ ...plain, files: manifest }, spec.sign) : plain;
  const files = await uploadTree(q, dir, jobId, "sub");
  const record: SubmissionRecord = {
    job: `${JSON.stringify(job, null, 2)}\n`,
    files,
    ...(spec.labels ? { labels: spec.labels } : {}),
    ...(spec.licences ? { licences: spec.licences } : {}),
    submitted_at: new Date().toISOString(),
  };
  await q.kv.create(jobKey(jobId, "sub"), encodeRecord(record));
  await createQueuedClaim(q.kv, jobId, new Date());
  if (options.publish ?? true) await q.js.publish(NATS_DISPATCH_SUBJECT, jobId, { msgID: jobId });
  return jobId;
}

/** Writes `job.<id>.cancel` as a NATS submitter does. */
export async function cancelOverNats(q: NatsQueue, jobId: string, reason = "changed my mind"): Promise<void> {
  const text = `${JSON.stringify({ job_id: jobId, requested_at: new Date().toISOString(), requested_by: "manager", reason }, null, 2)}\n`;
  CarriedFileSchema.parse({ text, written_at: new Date().toISOString() });
  await q.kv.put(jobKey(jobId, "cancel"), encodeRecord({ text, written_at: new Date().toISOString() }));
}

export async function claimOf(q: NatsQueue, jobId: string): Promise<ClaimRecord | undefined> {
  return (await readRecord(q.kv, jobKey(jobId, "claim"), ClaimRecordSchema))?.value;
}

export async function runOf(
  q: NatsQueue,
  jobId: string,
): Promise<{ record: RunRecord; job: Job } | undefined> {
  const read = await readRecord(q.kv, jobKey(jobId, "run"), RunRecordSchema);
  return read ? { record: read.value, job: parseJob(JSON.parse(read.value.job)) } : undefined;
}

/**
 * Downloads a finished job's run files into `into` and checks each result the final job.json lists
 * against its sha256 there: what fetch_results would hand to an agent. Returns the problems, none when
 * every result is there and intact.
 */
export async function verifyResults(q: NatsQueue, jobId: string, into: string): Promise<string[]> {
  const run = await runOf(q, jobId);
  if (!run) return [`${jobId}: no run record`];
  const listed = run.job.results?.files ?? [];
  if (listed.length === 0) return [`${jobId}: the final job.json lists no results`];
  await mkdir(into, { recursive: true });
  await downloadTree(q, run.record.files, into);
  const problems: string[] = [];
  for (const file of listed) {
    const bytes = await readFile(path.join(into, ...file.path.split("/"))).catch(() => undefined);
    if (!bytes) problems.push(`${jobId}: ${file.path} was not downloaded`);
    else if (createHash("sha256").update(bytes).digest("hex") !== file.sha256)
      problems.push(`${jobId}: ${file.path} sha256 differs from the results manifest`);
  }
  return problems;
}
