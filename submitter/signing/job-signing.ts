import type { CancelRequest, Job, SigningKey, SubmittedJob } from "../../protocol/index.ts";
import { SignatureSchema, signCancelRequest, signJob, verifyCancelSignature } from "../../protocol/index.ts";

/** The job as published: signed when this side has a key, else as it was (a runner without --trust-key runs it). */
export function signSubmission(job: SubmittedJob, key: SigningKey | undefined): SubmittedJob {
  return key ? signJob(job, key) : job;
}

/** The key id a job.json says signed it; undefined for an unsigned one. */
export function signerOf(job: Job): string | undefined {
  const parsed = SignatureSchema.safeParse((job as Record<string, unknown>).signature);
  return parsed.success ? parsed.data.key_id : undefined;
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
