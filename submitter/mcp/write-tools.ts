import { z } from "zod";
import type { Identity } from "../config/roles.ts";
import type { ServerContext } from "../context.ts";
import { isFinalState } from "../jobs/job-state.ts";
import { describeStatus } from "../jobs/status-text.ts";
import { ArchiveJobInput, ArchiveJobOutput, archiveJob } from "../operations/archive-job.ts";
import { CancelJobInput, CancelJobOutput, cancelJob } from "../operations/cancel-job.ts";
import type { FetchResultsArgs } from "../operations/fetch-results.ts";
import { FetchResultsInput, FetchResultsOutput, fetchResults } from "../operations/fetch-results.ts";
import { unknownJobError } from "../operations/job-lookup.ts";
import { jobStatus } from "../operations/job-status.ts";
import { SubmitJobInput, SubmitJobOutput, submitJob } from "../operations/submit-job.ts";
import { RUNNER_SIGNATURE_UNLISTED } from "../signing/record-signature.ts";
import { okResult } from "./tool-result.ts";
import type { ToolSpec } from "./tool-spec.ts";
import { defineTool, writes } from "./tool-spec.ts";
import { archiveText, cancelText, fetchText, submitText } from "./tool-text.ts";

/** A fetch task is done once the job is final and, when it completed, every result file has synced. */
async function fetchSettled(ctx: ServerContext, args: FetchResultsArgs) {
  const view = await jobStatus(ctx, args.job_id);
  if (view.state === "unknown") throw unknownJobError(view.job_id, view.suggestions);
  const synced = view.state !== "completed" || view.results.complete || !view.results.manifest;
  const line = describeStatus(view)[0] ?? view.state;
  return {
    done: isFinalState(view.state) && synced,
    message: view.state === "completed" && !synced ? `${line}; ${view.results.summary}` : line,
  };
}

/** The tools that change the queue or copy out of it: submitters' and processors'. */
export function writeTools(ctx: ServerContext, identity: Identity): ToolSpec[] {
  const fetch = async (args: FetchResultsArgs) => {
    const { summary, images } = await fetchResults(ctx, args, identity.agent);
    return okResult(
      summary,
      fetchText(summary),
      images.map((image) => ({ type: "image" as const, data: image.data, mimeType: image.mimeType })),
    );
  };
  return [
    defineTool({
      name: "submit_job",
      title: "Submit a study as a job",
      description:
        "Checks a study folder on this host and publishes it for the runner; returns the job_id at once.",
      input: z.object(SubmitJobInput),
      output: z.object(SubmitJobOutput),
      unlisted: ["created_at", "created_by", "outbox_dir", "resumed_trials"],
      annotations: writes({ destructiveHint: false, idempotentHint: false }),
      run: async (args) => {
        const result = await submitJob(ctx, args, identity.agent);
        return okResult(result, submitText(result));
      },
    }),
    defineTool({
      name: "fetch_results",
      title: "Fetch a finished job's results",
      description:
        "Copies a finished job to a local folder, verifies it, summarises study.db (best values, params), CSVs, PNG plots (attached) and the log. As a task: waits for the job to finish.",
      input: z.object(FetchResultsInput),
      output: z.object(FetchResultsOutput),
      unlisted: [...RUNNER_SIGNATURE_UNLISTED],
      annotations: writes({ destructiveHint: false, idempotentHint: true }),
      task: { check: (args) => fetchSettled(ctx, args), finish: (args) => fetch(args) },
      run: fetch,
    }),
    defineTool({
      name: "cancel_job",
      title: "Cancel a job",
      description:
        "Asks the runner to cancel a job (before it starts, or by killing it). Asking again is harmless.",
      input: z.object(CancelJobInput),
      output: z.object(CancelJobOutput),
      unlisted: ["requested_at", "requested_by"],
      annotations: writes({ destructiveHint: true, idempotentHint: true }),
      run: async (args) => {
        const result = await cancelJob(ctx, args, identity.agent);
        return okResult(result, cancelText(result));
      },
    }),
    defineTool({
      name: "archive_job",
      title: "Archive a finished job",
      description:
        "Copies a finished job to archive/<job_id>-<UTC stamp>/, verifies the copy, removes its outbox entry.",
      input: z.object(ArchiveJobInput),
      output: z.object(ArchiveJobOutput),
      unlisted: ["files", "bytes"],
      annotations: writes({ destructiveHint: true, idempotentHint: true }),
      run: async (args) => {
        const result = await archiveJob(ctx, args);
        return okResult(result, archiveText(result));
      },
    }),
  ];
}
