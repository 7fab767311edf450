import { z } from "zod";
import { MAX_JOB_ID_LENGTH } from "../../protocol/index.ts";
import type { ServerContext } from "../context.ts";
import { isFinalState, JOB_STATES } from "../jobs/job-state.ts";
import { describeStatus } from "../jobs/status-text.ts";
import type { StatusView } from "../jobs/status-view.ts";
import { StatusViewSchema } from "../jobs/status-view.ts";
import { unknownJobError } from "../operations/job-lookup.ts";
import { jobStatus } from "../operations/job-status.ts";
import { ListJobsInput, ListJobsOutput, listJobs } from "../operations/list-jobs.ts";
import { RunnerStatusOutput, runnerStatus } from "../operations/runner-status.ts";
import { TailLogInput, TailLogOutput, tailLog } from "../operations/tail-log.ts";
import type { WaitForJobArgs } from "../operations/wait-for-job.ts";
import { WaitForJobInput, waitForJob } from "../operations/wait-for-job.ts";
import { okResult } from "./tool-result.ts";
import type { ToolCall, ToolSpec } from "./tool-spec.ts";
import { defineTool, READ_ONLY } from "./tool-spec.ts";
import { listText, runnersText, tailText, waitText } from "./tool-text.ts";

export const JobStatusInput = {
  job_id: z.string().max(MAX_JOB_ID_LENGTH).describe("e.g. job-20260210-143022-starspec-wfe"),
};
/** The one status view, used by both job_status and wait_for_job. */
export const JobStatusOutput = { job: StatusViewSchema };
export const WaitForJobOutput = {
  changed: z.boolean(),
  timed_out: z.boolean(),
  waited_s: z.number(),
  job: StatusViewSchema,
};
/** wait_for_job lists its job by reference to job_status's, not restated: the view's key fields only. */
const WaitForJobListed = z.object({
  ...WaitForJobOutput,
  job: z
    .object({ job_id: z.string(), seq: z.number().int(), state: z.enum(JOB_STATES) })
    .describe("the job_status view"),
});

/**
 * The view's timestamps and counters (its text gives them), and the fields of "unknown" (job_status
 * answers not_found instead): left out of tools/list, to keep it within the agents' token budget.
 */
const UNLISTED_VIEW_FIELDS = [
  "created_at",
  "submitted_at",
  "queued_at",
  "started_at",
  "heartbeat_at",
  "archived_at",
  "cancel_requested_at",
  "runners_seen",
  "last_runner_seen_at",
  "reason",
  "suggestions",
].map((field) => `job.${field}`);

async function knownJob(ctx: ServerContext, jobId: string): Promise<StatusView> {
  const view = await jobStatus(ctx, jobId);
  if (view.state === "unknown") throw unknownJobError(view.job_id, view.suggestions);
  return view;
}

/** Progress notifications follow trials done; they must only ever increase (MCP spec). */
function progressReporter(call: ToolCall): (view: StatusView) => void {
  let last = -1;
  return (view) => {
    const progress = "progress" in view ? view.progress : undefined;
    const done = progress?.trials_complete;
    if (done === undefined || done <= last) return;
    last = done;
    const planned = progress?.trials_planned ?? undefined;
    const best = progress?.best_value;
    call.progress(
      done,
      planned,
      `${view.job_id}: ${done}${planned ? `/${planned}` : ""} trials done${typeof best === "number" ? `, best ${best}` : ""}`,
    );
  };
}

function waitTool(ctx: ServerContext): ToolSpec {
  return defineTool({
    name: "wait_for_job",
    title: "Wait for a job to change",
    description:
      "Returns on a state change (or a stale heartbeat), else after timeout_s with changed: false; on progress too with until: progress. Sends progress notifications. As a task: returns when the job is final.",
    input: z.object(WaitForJobInput),
    output: z.object(WaitForJobOutput),
    listedOutput: WaitForJobListed,
    annotations: READ_ONLY,
    task: {
      check: async (args: WaitForJobArgs) => {
        const view = await knownJob(ctx, args.job_id);
        return { done: isFinalState(view.state), message: describeStatus(view)[0] ?? view.state };
      },
      finish: async (args: WaitForJobArgs, since: Date) => {
        const view = await knownJob(ctx, args.job_id);
        const result = {
          changed: true,
          timed_out: false,
          waited_s: Math.round((Date.now() - since.getTime()) / 100) / 10,
          job: view,
        };
        return okResult(result, waitText(result));
      },
    },
    run: async (args, call) => {
      const result = await waitForJob(ctx, args, { signal: call.signal, onView: progressReporter(call) });
      return okResult({ ...result }, waitText(result));
    },
  });
}

/** The tools every role has: reading the queue. */
export function readTools(ctx: ServerContext): ToolSpec[] {
  return [
    defineTool({
      name: "job_status",
      title: "One job's state",
      description:
        "A job's state from its files: submitted, queued, running (heartbeat, progress), completed (results synced?), failed/cancelled (error, log tail), archived.",
      input: z.object(JobStatusInput),
      output: z.object(JobStatusOutput),
      unlisted: UNLISTED_VIEW_FIELDS,
      annotations: READ_ONLY,
      run: async (args) => {
        const view = await knownJob(ctx, args.job_id);
        return okResult({ job: view }, describeStatus(view));
      },
    }),
    defineTool({
      name: "list_jobs",
      title: "List jobs",
      description:
        "Job rows, newest first, filtered and paged; pass the returned cursor as changed_since to get only jobs that changed.",
      input: z.object(ListJobsInput),
      output: z.object(ListJobsOutput),
      annotations: READ_ONLY,
      run: async (args) => {
        const result = await listJobs(ctx, args);
        return okResult(result, listText(result));
      },
    }),
    waitTool(ctx),
    defineTool({
      name: "tail_log",
      title: "Read a job's stdout.log",
      description: "stdout.log from a byte offset, bounded; next_offset continues. Works while the job runs.",
      input: z.object(TailLogInput),
      output: z.object(TailLogOutput),
      unlisted: ["source", "restarted"],
      annotations: READ_ONLY,
      run: async (args) => {
        const result = await tailLog(ctx, args);
        return okResult(result, tailText(result));
      },
    }),
    defineTool({
      name: "runner_status",
      title: "Runners seen",
      description: "Each runner's heartbeat: host, slots, running and queued jobs, last seen, silent.",
      input: z.object({}),
      output: z.object(RunnerStatusOutput),
      // In the result and its text, not listed: tools/list costs every agent on every turn.
      unlisted: ["backend", "nats_url"],
      annotations: READ_ONLY,
      run: async () => {
        const result = await runnerStatus(ctx);
        return okResult(result, runnersText(result));
      },
    }),
  ];
}
