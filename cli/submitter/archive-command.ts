import { archiveText } from "../../submitter/mcp/tool-text.ts";
import { archiveJob } from "../../submitter/operations/archive-job.ts";
import { oneJobId, out, outJson, QUEUE_OPTIONS, queueCommand } from "./cli-support.ts";

const USAGE = `usage: atomizer-jobs archive JOB_ID [--queue DIR] [--json]

Copies a finished job and its results to archive/<job_id>-<UTC stamp>/, verifies the copy and
removes the job's outbox entry.`;

export const run = queueCommand({
  usage: USAGE,
  options: QUEUE_OPTIONS,
  args: ({ positionals }) => oneJobId(positionals, USAGE),
  run: async (ctx, jobId, { values }) => {
    const result = await archiveJob(ctx, { job_id: jobId });
    if (values.json) outJson(result);
    else out(archiveText(result));
    return 0;
  },
});
