import type { GetOptions, JobRecord } from "../catalog/job-catalog.ts";
import type { ServerContext } from "../context.ts";
import { suggestJobIds } from "../jobs/suggest.ts";
import { OperationError } from "./operation-error.ts";

const LOOSE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

/**
 * A job id safe to join onto queue paths. Near-misses are not refused here (they get suggestions as an
 * unknown job); only what could escape the queue folder or is not an id at all.
 */
export function checkJobIdArgument(jobId: string): string {
  const trimmed = jobId.trim();
  if (!LOOSE_ID.test(trimmed)) {
    throw new OperationError(
      "invalid_argument",
      `job_id ${JSON.stringify(jobId)} is not a job id (expected job-YYYYMMDD-HHMMSS-<slug>)`,
      "call list_jobs to see job ids",
    );
  }
  return trimmed;
}

export async function suggestionsFor(ctx: ServerContext, jobId: string): Promise<string[]> {
  return suggestJobIds(jobId, await ctx.catalog.ids());
}

export function unknownJobError(jobId: string, suggestions: readonly string[]): OperationError {
  return new OperationError(
    "not_found",
    `no job ${jobId} in outbox/, inbox/ or archive/` +
      (suggestions.length > 0 ? `; did you mean ${suggestions.join(", ")}?` : ""),
    "call list_jobs to see job ids",
    { suggestions },
  );
}

/** The job, read once; an unknown one is the not_found error with suggestions, for every operation alike. */
export async function knownJob(
  ctx: ServerContext,
  rawJobId: string,
  options?: GetOptions,
): Promise<JobRecord> {
  const jobId = checkJobIdArgument(rawJobId);
  const record = await ctx.catalog.get(jobId, options);
  if (record.state === "unknown") throw unknownJobError(jobId, await suggestionsFor(ctx, jobId));
  return record;
}
