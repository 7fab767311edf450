import { archiveText } from "../../submitter/mcp/tool-text.ts";
import { archiveJob } from "../../submitter/operations/archive-job.ts";
import {
  oneJobId,
  out,
  outJson,
  parse,
  QUEUE_OPTIONS,
  queueRoot,
  runCli,
  withContext,
} from "./cli-support.ts";

const USAGE = `usage: atomizer-jobs archive JOB_ID [--queue DIR] [--json]

Copies a finished job and its results to archive/<job_id>-<UTC stamp>/, verifies the copy and
removes the job's outbox entry.`;

export function run(argv: string[]): Promise<number> {
  return runCli(argv, USAGE, async () => {
    const { values, positionals } = parse(argv, QUEUE_OPTIONS, USAGE);
    const jobId = oneJobId(positionals, USAGE);
    return withContext({ queueRoot: queueRoot(values.queue, USAGE), withIndex: false }, async (ctx) => {
      const result = await archiveJob(ctx, { job_id: jobId });
      if (values.json) outJson(result);
      else out(archiveText(result));
      return 0;
    });
  });
}
