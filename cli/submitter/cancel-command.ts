import { cancelText } from "../../submitter/mcp/tool-text.ts";
import { cancelJob } from "../../submitter/operations/cancel-job.ts";
import {
  cliAgent,
  oneJobId,
  out,
  outJson,
  parse,
  QUEUE_OPTIONS,
  queueRoot,
  runCli,
  withContext,
} from "./cli-support.ts";

const USAGE = `usage: atomizer-jobs cancel JOB_ID [--reason TEXT] [--agent NAME] [--queue DIR] [--json]

Asks the runner to cancel a job (outbox/.cancel/<job_id>.json). Asking twice is harmless.`;

const OPTIONS = { ...QUEUE_OPTIONS, reason: { type: "string" }, agent: { type: "string" } } as const;

export function run(argv: string[]): Promise<number> {
  return runCli(argv, USAGE, async () => {
    const { values, positionals } = parse(argv, OPTIONS, USAGE);
    const jobId = oneJobId(positionals, USAGE);
    return withContext({ queueRoot: queueRoot(values.queue, USAGE), withIndex: false }, async (ctx) => {
      const result = await cancelJob(
        ctx,
        { job_id: jobId, ...(values.reason ? { reason: values.reason } : {}) },
        cliAgent(values.agent),
      );
      if (values.json) outJson(result);
      else
        out(
          cancelText(result).map((line) =>
            line.replace(/^next: .*$/, `next: atomizer-jobs wait ${result.job_id}`),
          ),
        );
      return 0;
    });
  });
}
