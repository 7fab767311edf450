import type { RunnerView } from "../jobs/runners.ts";
import type { RunnerSignatureReport } from "./record-signature.ts";

/** runner_status: whether the runner runs only signed jobs, and whose. */
export function trustText(runner: RunnerView): string {
  const own = runner.record_key ? `, signs its records as ${runner.record_key}` : "";
  return runner.trusted_keys !== undefined
    ? `runs only signed jobs (trusts ${runner.trusted_keys.join(", ") || "no key"})${own}`
    : `accepts unsigned jobs${own}`;
}

const ADVICE: Record<string, string> = {
  unsigned:
    "the workstation signs its records only when its runner has --signing-key: ask its operator to set it up",
  unknown_key:
    "if the workstation's key was rotated, give its new .pub with --trust-key; otherwise the record was not written by it",
  invalid:
    "the record was changed after the workstation signed it, or its signature was copied from another job",
};

/** fetch_results: one line on the runner's signature, loud when trusted keys were given and it failed. */
export function runnerSignatureLine(report: RunnerSignatureReport & { complete: boolean }): string {
  const key = report.runner_key_id ? ` (${report.runner_key_id})` : "";
  switch (report.runner_signature) {
    case "verified":
      return report.complete
        ? `runner_signature: verified${key}: these results come from the workstation`
        : `runner_signature: verified${key}: the record is the workstation's; only the files it lists count as its results`;
    case "not_checked":
      return `runner_signature: not checked${key} (this server has no --trust-key)`;
    default:
      return `WARNING runner_signature: ${report.runner_signature}${key}: the inbox job.json ${report.runner_signature_problem ?? "did not verify"}; these results cannot be shown to come from the workstation (they were copied anyway). ${ADVICE[report.runner_signature] ?? ""}`;
  }
}

/** job_status of a job the workstation refused as untrusted: what to change before submitting again. */
export function untrustedNext(jobId: string): string {
  return `next: the workstation ran nothing of ${jobId}: it runs only jobs signed by a key it trusts. Start this server with --signing-key FILE (or ATOMIZER_SIGNING_KEY) whose key id runner_status lists as trusted, then submit the study again as a new job`;
}
