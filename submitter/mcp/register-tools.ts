import type { McpServer, ToolCallback } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { CallToolResult, ToolAnnotations } from "@modelcontextprotocol/sdk/types.js";
import { type ZodRawShape, z } from "zod";
import type { Identity, ToolName } from "../config/roles.ts";
import { ROLE_TOOLS } from "../config/roles.ts";
import type { ServerContext } from "../context.ts";
import { describeStatus } from "../jobs/status-text.ts";
import { StatusViewSchema } from "../jobs/status-view.ts";
import { ArchiveJobInput, ArchiveJobOutput, archiveJob } from "../operations/archive-job.ts";
import { CancelJobInput, CancelJobOutput, cancelJob } from "../operations/cancel-job.ts";
import { FetchResultsInput, FetchResultsOutput, fetchResults } from "../operations/fetch-results.ts";
import { unknownJobError } from "../operations/job-lookup.ts";
import { jobStatus } from "../operations/job-status.ts";
import { ListJobsInput, ListJobsOutput, listJobs } from "../operations/list-jobs.ts";
import { RunnerStatusOutput, runnerStatus } from "../operations/runner-status.ts";
import { SubmitJobInput, SubmitJobOutput, submitJob } from "../operations/submit-job.ts";
import { TailLogInput, TailLogOutput, tailLog } from "../operations/tail-log.ts";
import { WaitForJobInput, waitForJob } from "../operations/wait-for-job.ts";
import { errorResult, okResult } from "./tool-result.ts";
import {
  archiveText,
  cancelText,
  fetchText,
  listText,
  runnersText,
  submitText,
  tailText,
  waitText,
} from "./tool-text.ts";

const READ_ONLY: ToolAnnotations = {
  readOnlyHint: true,
  destructiveHint: false,
  idempotentHint: true,
  openWorldHint: false,
};

function writes(hints: { destructiveHint: boolean; idempotentHint: boolean }): ToolAnnotations {
  return { readOnlyHint: false, ...hints, openWorldHint: false };
}

export const JobStatusInput = {
  job_id: z.string().describe("job id, e.g. job-20260210-143022-starspec-wfe"),
};
export const JobStatusOutput = { job: StatusViewSchema };
export const WaitForJobOutput = {
  changed: z.boolean(),
  timed_out: z.boolean(),
  waited_s: z.number(),
  job: StatusViewSchema,
};

/** Any failure becomes an isError result that says what was wrong and what to do. */
function guarded<Args extends unknown[]>(
  run: (...args: Args) => Promise<CallToolResult>,
): (...args: Args) => Promise<CallToolResult> {
  return async (...args) => {
    try {
      return await run(...args);
    } catch (error) {
      return errorResult(error);
    }
  };
}

interface ToolConfig<Input extends ZodRawShape> {
  title: string;
  description: string;
  inputSchema: Input;
  outputSchema: ZodRawShape;
  annotations: ToolAnnotations;
}

/** Registers the tools `identity.role` may use, and only those: the others do not exist for it. */
export function registerTools(server: McpServer, ctx: ServerContext, identity: Identity): void {
  const allowed = new Set<ToolName>(ROLE_TOOLS[identity.role]);
  const tool = <Input extends ZodRawShape>(
    name: ToolName,
    config: ToolConfig<Input>,
    run: ToolCallback<Input>,
  ) => {
    if (allowed.has(name)) server.registerTool(name, config, run);
  };

  tool(
    "submit_job",
    {
      title: "Submit a study as a job",
      description:
        "Checks a study folder on this host (paths, script, atomizer_spec.json, no absolute paths, README.md) and publishes it to outbox/ for the runner. Returns the job_id at once.",
      inputSchema: SubmitJobInput,
      outputSchema: SubmitJobOutput,
      annotations: writes({ destructiveHint: false, idempotentHint: false }),
    },
    guarded(async (args) => {
      const result = await submitJob(ctx, args, identity.agent);
      return okResult(result, submitText(result));
    }),
  );

  tool(
    "job_status",
    {
      title: "One job's state",
      description:
        "A job's state proven by its files: submitted (waiting for sync/pickup), queued (position), running (heartbeat, progress), completed (result files synced), failed/cancelled (error, log tail), archived.",
      inputSchema: JobStatusInput,
      outputSchema: JobStatusOutput,
      annotations: READ_ONLY,
    },
    guarded(async (args) => {
      const view = await jobStatus(ctx, args.job_id);
      if (view.state === "unknown") throw unknownJobError(view.job_id, view.suggestions);
      return okResult({ job: view }, describeStatus(view));
    }),
  );

  tool(
    "list_jobs",
    {
      title: "List jobs",
      description:
        "Compact job rows, newest first, filtered by status/project/created_by, paged. Pass the returned cursor as changed_since to see only jobs that changed.",
      inputSchema: ListJobsInput,
      outputSchema: ListJobsOutput,
      annotations: READ_ONLY,
    },
    guarded(async (args) => {
      const result = await listJobs(ctx, args);
      return okResult(result, listText(result));
    }),
  );

  tool(
    "wait_for_job",
    {
      title: "Wait for a job to change",
      description:
        "Returns as soon as the job's status or progress changes after seq, or after timeout_s (at most 45) with changed: false. Call again with the returned seq.",
      inputSchema: WaitForJobInput,
      outputSchema: WaitForJobOutput,
      annotations: READ_ONLY,
    },
    guarded(async (args, extra) => {
      const result = await waitForJob(ctx, args, { signal: extra.signal });
      return okResult({ ...result }, waitText(result));
    }),
  );

  tool(
    "fetch_results",
    {
      title: "Fetch a finished job's results",
      description:
        "Copies a finished job into a local working folder (never touching inbox/), verifies it, and summarises study.db (best values and params), CSVs, PNG plots (as images) and the log tail.",
      inputSchema: FetchResultsInput,
      outputSchema: FetchResultsOutput,
      annotations: writes({ destructiveHint: false, idempotentHint: true }),
    },
    guarded(async (args) => {
      const { summary, images } = await fetchResults(ctx, args, identity.agent);
      return okResult(
        summary,
        fetchText(summary),
        images.map((image) => ({ type: "image" as const, data: image.data, mimeType: image.mimeType })),
      );
    }),
  );

  tool(
    "tail_log",
    {
      title: "Read a job's stdout.log",
      description:
        "stdout.log from a byte offset, bounded, with next_offset to continue; works while the job runs.",
      inputSchema: TailLogInput,
      outputSchema: TailLogOutput,
      annotations: READ_ONLY,
    },
    guarded(async (args) => {
      const result = await tailLog(ctx, args);
      return okResult(result, tailText(result));
    }),
  );

  tool(
    "cancel_job",
    {
      title: "Cancel a job",
      description:
        "Asks the runner to cancel a job (before it starts, or by killing it). Asking again is harmless.",
      inputSchema: CancelJobInput,
      outputSchema: CancelJobOutput,
      annotations: writes({ destructiveHint: true, idempotentHint: true }),
    },
    guarded(async (args) => {
      const result = await cancelJob(ctx, args, identity.agent);
      return okResult(result, cancelText(result));
    }),
  );

  tool(
    "archive_job",
    {
      title: "Archive a finished job",
      description:
        "Copies a completed/failed/cancelled job with its results to archive/<job_id>-<UTC stamp>/, verifies the copy, then removes its outbox entry.",
      inputSchema: ArchiveJobInput,
      outputSchema: ArchiveJobOutput,
      annotations: writes({ destructiveHint: true, idempotentHint: true }),
    },
    guarded(async (args) => {
      const result = await archiveJob(ctx, args);
      return okResult(result, archiveText(result));
    }),
  );

  tool(
    "runner_status",
    {
      title: "Runners seen",
      description:
        "Every runner's heartbeat: host, version, slots, running and queued jobs, last seen, silent.",
      inputSchema: {},
      outputSchema: RunnerStatusOutput,
      annotations: READ_ONLY,
    },
    guarded(async () => {
      const result = await runnerStatus(ctx);
      return okResult(result, runnersText(result));
    }),
  );
}
