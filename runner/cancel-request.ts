import type { QueuePaths, TrustedKey } from "../protocol/index.ts";
import { readCancelRequest, verifyCancelSignature } from "../protocol/index.ts";

// Whether outbox/.cancel/<job_id>.json stops the job. Without trusted keys any request counts, even one
// that cannot be read (someone asked: the protocol's rule). With trusted keys only a request signed by
// one of them and naming this job counts: anyone who can write the queue could otherwise stop someone
// else's study (docs/runner.md, "Signed jobs").

export type CancelDecision =
  | { kind: "none" }
  /** Honour it; `message` says who asked and why, for error.message. */
  | { kind: "cancel"; message: string }
  /** A request that does not count here; `problem` says why, for the log. */
  | { kind: "ignored"; problem: string };

export async function decideCancel(
  queue: Pick<QueuePaths, "cancelDir">,
  jobId: string,
  trusted: readonly TrustedKey[],
): Promise<CancelDecision> {
  const read = await readCancelRequest(queue, jobId);
  const signedOnly = trusted.length > 0;
  switch (read.kind) {
    case "absent":
      return { kind: "none" };
    case "unreadable":
      return signedOnly
        ? { kind: "ignored", problem: `the request file cannot be read (${read.problem})` }
        : { kind: "cancel", message: "cancel requested (the request file could not be read)" };
    case "invalid":
      return signedOnly
        ? { kind: "ignored", problem: `the request file is not a valid cancel request (${read.problem})` }
        : { kind: "cancel", message: "cancel requested (the request file is not a valid cancel request)" };
    case "ok": {
      const { requested_by, reason, job_id } = read.request;
      if (signedOnly) {
        if (job_id !== jobId)
          return { kind: "ignored", problem: `the request names job ${job_id}, not this one` };
        const check = verifyCancelSignature(read.request, trusted);
        if (!check.ok) return { kind: "ignored", problem: check.problem };
      }
      return {
        kind: "cancel",
        message: `cancelled at the request of ${requested_by}${reason ? `: ${reason}` : ""}`,
      };
    }
  }
}
