import type { Job, SignatureCheck, SignatureFailure, TrustedKey } from "../protocol/index.ts";
import { verifyJobSignature } from "../protocol/index.ts";
import type { IntakeResult } from "./intake-result.ts";
import { reject } from "./intake-result.ts";

// The runner's signature check of a job (docs/runner.md, "Signed jobs"). With trusted keys, a job runs
// only when its signature, which covers its run fields and its whole manifest, verifies against one of
// them; the manifest's sha256s then tie every copied file to it. A refusal says which check failed and
// what to do, and nothing of the job is copied or run.

const SIGNED_SUBMIT =
  "submit it through the MCP server or `atomizer-jobs submit --signing-key`, not by writing into outbox/";

const WHAT_TO_DO: Record<SignatureFailure, string> = {
  unsigned: `, and this runner runs only signed jobs (--trust-key); ${SIGNED_SUBMIT}`,
  malformed: `; resubmit it from the MCP server or with \`atomizer-jobs submit --signing-key\``,
  unknown_key: "; add that submitter's public key with --trust-key, or resubmit it signed by a trusted key",
  mismatch: "; resubmit it from the MCP server",
};

/** The refusal of a job whose signature failed `check`. */
export function untrustedMessage(jobId: string, check: Exclude<SignatureCheck, { ok: true }>): string {
  return `job ${jobId} was not run: ${check.problem}${WHAT_TO_DO[check.check]}`;
}

/** With trusted keys: a rejection unless the job's signature verifies. Without: undefined (every job runs). */
export function checkJobTrust(job: Job, trusted: readonly TrustedKey[]): IntakeResult | undefined {
  if (trusted.length === 0) return undefined;
  const check = verifyJobSignature(job, trusted);
  return check.ok ? undefined : reject(job, "untrusted", untrustedMessage(job.job_id, check));
}

/**
 * Files complete in size, unchanged between two looks, and still not the signed content: not a transfer
 * in progress but a file changed after signing. Refused at once rather than after the grace period.
 */
export function changedAfterSigning(job: Job, paths: readonly string[]): IntakeResult {
  return reject(
    job,
    "untrusted",
    `job ${job.job_id} was not run: ${paths.join(", ")} ${paths.length === 1 ? "differs" : "differ"} from the signed manifest (sha256): changed after signing; resubmit it from the MCP server`,
  );
}
