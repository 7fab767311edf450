import { mkdir } from "node:fs/promises";
import { z } from "zod";
import type { CancelRequest } from "../../protocol/index.ts";
import { MAX_JOB_ID_LENGTH, writeJsonAtomic } from "../../protocol/index.ts";
import type { ServerContext } from "../context.ts";
import { cancelRequestPath, readCancelRequest, unknownJobError } from "./job-lookup.ts";
import { jobStatus } from "./job-status.ts";
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

/** Writes outbox/.cancel/<job_id>.json for the runner; asking twice returns the first request. */
export async function cancelJob(
  ctx: ServerContext,
  args: CancelJobArgs,
  agent: string,
): Promise<CancelJobResult> {
  const view = await jobStatus(ctx, args.job_id);
  if (view.state === "unknown") throw unknownJobError(view.job_id, view.suggestions);
  if (view.state !== "submitted" && view.state !== "queued" && view.state !== "running") {
    throw new OperationError(
      "wrong_state",
      `${view.job_id} is already ${view.state}; there is nothing to cancel`,
      view.state === "archived"
        ? "nothing to do"
        : `archive it with archive_job {job_id: "${view.job_id}"} when done`,
    );
  }
  const outcome = view.state === "running" ? "kill" : "before_start";
  const existing = await readCancelRequest(ctx, view.job_id);
  if (existing) {
    return {
      job_id: view.job_id,
      state: view.state,
      outcome,
      requested_at: existing.requested_at,
      requested_by: existing.requested_by,
      already_requested: true,
    };
  }
  const request: CancelRequest = {
    job_id: view.job_id,
    requested_at: ctx.now().toISOString(),
    requested_by: agent,
    ...(args.reason ? { reason: args.reason } : {}),
  };
  await mkdir(ctx.queue.cancelDir, { recursive: true });
  await writeJsonAtomic(cancelRequestPath(ctx, view.job_id), request);
  return {
    job_id: view.job_id,
    state: view.state,
    outcome,
    requested_at: request.requested_at,
    requested_by: agent,
    already_requested: false,
  };
}
