import type { CancelRequest, Job, SigningKey, SubmittedJob } from "../../protocol/index.ts";
import {
  signCancelRequest,
  signJob,
  verifyCancelSignature,
  verifyJobSignature,
} from "../../protocol/index.ts";
import { OperationError } from "../operations/operation-error.ts";

/** The job as published: signed when this side has a key, else as it was (a runner without --trust-key runs it). */
export function signSubmission(job: SubmittedJob, key: SigningKey | undefined): SubmittedJob {
  return key ? signJob(job, key) : job;
}

/**
 * Who signed the job an idempotency_key found, as far as this server can prove it: with a key, the job
 * must verify against it, else the key is refused (a runner that trusts only this key would refuse that
 * job, and the job.json there may not even be this server's). Without a key: none.
 */
export function existingSigner(existing: Job, key: SigningKey | undefined): string | undefined {
  if (!key) return undefined;
  const own = [{ keyId: key.keyId, publicKey: key.publicKey, file: key.file }];
  if (verifyJobSignature(existing, own).ok) return key.keyId;
  throw new OperationError(
    "conflict",
    `${existing.job_id}, submitted before with this idempotency_key, is not signed by this server's key ${key.keyId} (it was submitted before signing was set up, with another key, or not by this server)`,
    "use a new idempotency_key to submit the study as a new, signed job",
    { job_id: existing.job_id },
  );
}

export function signCancel(request: CancelRequest, key: SigningKey | undefined): CancelRequest {
  return key ? signCancelRequest(request, key) : request;
}

/**
 * Whether an existing cancel request may stand for ours: always without a key; with one, only if our
 * key signed it. A forged request lying there first would otherwise block the real, signed one.
 */
export function keepsCancel(key: SigningKey | undefined): (existing: CancelRequest) => boolean {
  if (!key) return () => true;
  const own = [{ keyId: key.keyId, publicKey: key.publicKey, file: key.file }];
  return (existing) => verifyCancelSignature(existing, own).ok;
}
