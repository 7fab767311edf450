import type { CancelRequest, FileEntry, Job, RunnerHeartbeat } from "./job-schema.ts";
import type { Signature, SignatureCheck } from "./signatures.ts";
import { signFields, verifyFields } from "./signatures.ts";
import type { SigningKey, TrustedKey } from "./signing-keys.ts";

// The three signed records of the queue and the fields each signature covers (docs/PROTOCOL.md,
// "Signatures"). The signature travels in the record itself, as its `signature` field (the runner's
// in `runner_signature`), so it arrives with it in one atomic file: a separate signature file could
// reach the workstation after the job.json over Syncthing and have a good job refused.

/** job.json: who may run what. */
export const JOB_SIGNATURE_FIELD = "signature";
/** inbox job.json: what the workstation reports of the run and its results. */
export const RECORD_SIGNATURE_FIELD = "runner_signature";

function manifestFields(files: readonly FileEntry[]): Array<Pick<FileEntry, "path" | "size" | "sha256">> {
  return files.map(({ path, size, sha256 }) => ({ path, size, sha256 }));
}

/** The identity and run fields of a job and its whole manifest: nothing that runs can change without breaking it. */
export function jobSignedFields(job: Job & { files: readonly FileEntry[] }): Record<string, unknown> {
  return {
    job_id: job.job_id,
    script: job.script,
    args: job.args,
    type: job.type,
    timeout_s: job.timeout_s ?? null,
    created_by: job.created_by,
    created_at: job.created_at,
    files: manifestFields(job.files),
  };
}

/** The job with its `signature` field set. Only a job with a manifest can be signed. */
export function signJob<T extends Job & { files: readonly FileEntry[] }>(
  job: T,
  key: SigningKey,
): T & { signature: Signature } {
  return { ...job, [JOB_SIGNATURE_FIELD]: signFields("atomizer-job", jobSignedFields(job), key) } as T & {
    signature: Signature;
  };
}

function fieldOf(record: object, field: string): unknown {
  return (record as Record<string, unknown>)[field];
}

/** Checks a submitted job's signature; a plain SYS_19 job (no manifest) cannot be signed and fails as unsigned. */
export function verifyJobSignature(job: Job, trusted: readonly TrustedKey[]): SignatureCheck {
  if (job.files === undefined)
    return {
      ok: false,
      check: "unsigned",
      problem: "it has no file manifest (a plain SYS_19 job), so it cannot be signed",
    };
  return verifyFields(
    "atomizer-job",
    jobSignedFields({ ...job, files: job.files }),
    fieldOf(job, JOB_SIGNATURE_FIELD),
    trusted,
  );
}

export function cancelSignedFields(request: CancelRequest): Record<string, unknown> {
  return {
    job_id: request.job_id,
    requested_at: request.requested_at,
    requested_by: request.requested_by,
    reason: request.reason ?? null,
  };
}

export function signCancelRequest<T extends CancelRequest>(
  request: T,
  key: SigningKey,
): T & { signature: Signature } {
  return {
    ...request,
    [JOB_SIGNATURE_FIELD]: signFields("atomizer-cancel", cancelSignedFields(request), key),
  } as T & {
    signature: Signature;
  };
}

export function verifyCancelSignature(
  request: CancelRequest,
  trusted: readonly TrustedKey[],
): SignatureCheck {
  return verifyFields(
    "atomizer-cancel",
    cancelSignedFields(request),
    fieldOf(request, JOB_SIGNATURE_FIELD),
    trusted,
  );
}

/**
 * The runner's record of a job: its outcome, its results manifest, and the submitter's signature of
 * the job it ran, so a record cannot be moved onto another job. Heartbeat and progress fields are not
 * covered: they change every few seconds and prove nothing about the results.
 */
export function recordSignedFields(job: Job): Record<string, unknown> {
  const submitted = fieldOf(job, JOB_SIGNATURE_FIELD) as { value?: unknown } | undefined;
  return {
    job_id: job.job_id,
    status: job.status,
    host: job.runner?.host ?? null,
    started_at: job.started_at ?? null,
    finished_at: job.finished_at ?? null,
    exit_code: job.exit_code ?? null,
    error: job.error ? { kind: job.error.kind, message: job.error.message } : null,
    results: job.results
      ? { published_at: job.results.published_at, files: manifestFields(job.results.files) }
      : null,
    job_signature: typeof submitted?.value === "string" ? submitted.value : null,
  };
}

export function signRecord<T extends Job>(job: T, key: SigningKey): T & { runner_signature: Signature } {
  return {
    ...job,
    [RECORD_SIGNATURE_FIELD]: signFields("atomizer-record", recordSignedFields(job), key),
  } as T & {
    runner_signature: Signature;
  };
}

export function verifyRecordSignature(job: Job, trusted: readonly TrustedKey[]): SignatureCheck {
  return verifyFields(
    "atomizer-record",
    recordSignedFields(job),
    fieldOf(job, RECORD_SIGNATURE_FIELD),
    trusted,
  );
}

/**
 * A runner heartbeat: every field of it (it is small and rewritten whole), so a device that can write
 * inbox/.runners/ cannot pose as the workstation, claim keys it trusts, or make a live runner look stopped.
 */
export function heartbeatSignedFields(heartbeat: RunnerHeartbeat): Record<string, unknown> {
  const { [JOB_SIGNATURE_FIELD]: _signature, ...fields } = heartbeat as RunnerHeartbeat & {
    signature?: unknown;
  };
  return fields;
}

export function signHeartbeat<T extends RunnerHeartbeat>(
  heartbeat: T,
  key: SigningKey,
): T & { signature: Signature } {
  return {
    ...heartbeat,
    [JOB_SIGNATURE_FIELD]: signFields("atomizer-heartbeat", heartbeatSignedFields(heartbeat), key),
  } as T & { signature: Signature };
}

export function verifyHeartbeatSignature(
  heartbeat: RunnerHeartbeat,
  trusted: readonly TrustedKey[],
): SignatureCheck {
  return verifyFields(
    "atomizer-heartbeat",
    heartbeatSignedFields(heartbeat),
    fieldOf(heartbeat, JOB_SIGNATURE_FIELD),
    trusted,
  );
}
