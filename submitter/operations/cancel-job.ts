import { z } from "zod";
import { MAX_JOB_ID_LENGTH } from "../../protocol/index.ts";
import type { ServerContext } from "../context.ts";
import { isFinalState } from "../jobs/job-state.ts";
import { keepsCancel, signCancel } from "../signing/job-signing.ts";
import { knownJob } from "./job-lookup.ts";
import { OperationError } from "./operation-error.ts";

export const CancelJobInput = {
  job_id: z.string().max(MAX_JOB_ID_LENGTH),
  reason: z.string().max(500).optional().describe("why, for the job's record"),
};
const CancelJobInputSchema = z.object(CancelJobInput);
export type CancelJobArgs = z.infer<typeof CancelJobInputSchema>;

export const CancelJobOutput = {
  job_id: z.string(),
  state: z.string(),
  /** before_start: the runner drops it unrun; kill: the runner kills the running process tree. */
  outcome: z.enum(["before_start", "kill"]),
  requested_at: z.string(),
  requested_by: z.string(),
  already_requested: z.boolean(),
};
const CancelJobOutputSchema = z.object(CancelJobOutput);
export type CancelJobResult = z.infer<typeof CancelJobOutputSchema>;

/** Asks the runner to cancel (outbox/.cancel/<job_id>.json); asking twice returns the first request. */
export async function cancelJob(
  ctx: ServerContext,
  args: CancelJobArgs,
  agent: string,
): Promise<CancelJobResult> {
  const job = await knownJob(ctx, args.job_id);
  const { job_id: jobId, state } = job;
  if (isFinalState(state)) {
    throw new OperationError(
      "wrong_state",
      `${jobId} is already ${state}; there is nothing to cancel`,
      state === "archived" ? "nothing to do" : `archive it with archive_job {job_id: "${jobId}"} when done`,
    );
  }
  const { request, already } = await ctx.catalog.requestCancel(
    signCancel(
      {
        job_id: jobId,
        requested_at: ctx.now().toISOString(),
        requested_by: agent,
        ...(args.reason ? { reason: args.reason } : {}),
      },
      ctx.signingKey,
    ),
    keepsCancel(ctx.signingKey),
  );
  return {
    job_id: jobId,
    state,
    outcome: state === "running" ? "kill" : "before_start",
    requested_at: request.requested_at,
    requested_by: request.requested_by,
    already_requested: already,
  };
}
