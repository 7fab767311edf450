import { describeStatus } from "../../submitter/jobs/status-text.ts";
import { unknownJobError } from "../../submitter/operations/job-lookup.ts";
import { jobStatus } from "../../submitter/operations/job-status.ts";
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

const USAGE = `usage: atomizer-jobs status JOB_ID [--queue DIR] [--json]

Shows one job's state as its files prove it.`;

export function run(argv: string[]): Promise<number> {
  return runCli(argv, USAGE, async () => {
    const { values, positionals } = parse(argv, QUEUE_OPTIONS, USAGE);
    const jobId = oneJobId(positionals, USAGE);
    return withContext({ queueRoot: queueRoot(values.queue, USAGE), withIndex: false }, async (ctx) => {
      const view = await jobStatus(ctx, jobId);
      if (view.state === "unknown") throw unknownJobError(view.job_id, view.suggestions);
      if (values.json) outJson(view);
      else out(describeStatus(view));
      return 0;
    });
  });
}
