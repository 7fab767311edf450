import { describeStatus } from "../../submitter/jobs/status-text.ts";
import { unknownJobError } from "../../submitter/operations/job-lookup.ts";
import { jobStatus } from "../../submitter/operations/job-status.ts";
import { oneJobId, out, outJson, QUEUE_OPTIONS, queueCommand } from "./cli-support.ts";

const USAGE = `usage: atomizer-jobs status JOB_ID [--queue DIR] [--json]

Shows one job's state as its files prove it.`;

export const run = queueCommand({
  usage: USAGE,
  options: QUEUE_OPTIONS,
  args: ({ positionals }) => oneJobId(positionals, USAGE),
  run: async (ctx, jobId, { values }) => {
    const view = await jobStatus(ctx, jobId);
    if (view.state === "unknown") throw unknownJobError(view.job_id, view.suggestions);
    if (values.json) outJson(view);
    else out(describeStatus(view));
    return 0;
  },
});
