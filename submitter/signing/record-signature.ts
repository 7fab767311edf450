import { z } from "zod";
import type { Job, TrustedKey } from "../../protocol/index.ts";
import { RECORD_SIGNATURE_FIELD, SignatureSchema, verifyRecordSignature } from "../../protocol/index.ts";

/**
 * What fetch_results found of the runner's signature on its job.json: verified by a trusted key,
 * unsigned, invalid (malformed, or something it covers changed), signed by an unknown key, or not
 * checked (this server was given no --trust-key).
 */
export const RUNNER_SIGNATURE_STATES = [
  "verified",
  "unsigned",
  "invalid",
  "unknown_key",
  "not_checked",
] as const;
export type RunnerSignatureState = (typeof RUNNER_SIGNATURE_STATES)[number];

export const RunnerSignatureOutput = {
  // Listed as a plain string: the five states cost 70 characters of tools/list on every agent turn;
  // the text line and SKILL.md name them.
  runner_signature: z.string() as unknown as z.ZodType<RunnerSignatureState>,
  runner_key_id: z.string().optional(),
  /** Why it did not verify: the protocol's clause ("it carries no signature", ...). */
  runner_signature_problem: z.string().optional(),
};
/** Said by the text and SKILL.md: kept out of tools/list. */
export const RUNNER_SIGNATURE_UNLISTED = ["runner_key_id", "runner_signature_problem"] as const;

export interface RunnerSignatureReport {
  runner_signature: RunnerSignatureState;
  runner_key_id?: string;
  runner_signature_problem?: string;
}

/** Checks the runner's record (inbox or archived job.json) against the workstation keys this side trusts. */
export function checkRunnerSignature(job: Job, trusted: readonly TrustedKey[]): RunnerSignatureReport {
  if (trusted.length === 0) {
    const named = SignatureSchema.safeParse((job as Record<string, unknown>)[RECORD_SIGNATURE_FIELD]);
    return {
      runner_signature: "not_checked",
      ...(named.success ? { runner_key_id: named.data.key_id } : {}),
    };
  }
  const check = verifyRecordSignature(job, trusted);
  if (check.ok) return { runner_signature: "verified", runner_key_id: check.keyId };
  const state: RunnerSignatureState =
    check.check === "unsigned" ? "unsigned" : check.check === "unknown_key" ? "unknown_key" : "invalid";
  return {
    runner_signature: state,
    ...(check.keyId ? { runner_key_id: check.keyId } : {}),
    runner_signature_problem: check.problem,
  };
}
