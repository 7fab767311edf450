import { cancelText } from "../../submitter/mcp/tool-text.ts";
import { cancelJob } from "../../submitter/operations/cancel-job.ts";
import { cliAgent, oneJobId, out, outJson, QUEUE_OPTIONS, queueCommand } from "./cli-support.ts";
import { KEY_OPTIONS, KEY_USAGE } from "./key-options.ts";

const USAGE = `usage: atomizer-jobs cancel JOB_ID [--reason TEXT] [--agent NAME] [--signing-key FILE] [--queue DIR] [--json]

Asks the runner to cancel a job (outbox/.cancel/<job_id>.json). Asking twice is harmless;
a request not signed by --signing-key is replaced by a signed one.
${KEY_USAGE}`;

const OPTIONS = {
  ...QUEUE_OPTIONS,
  ...KEY_OPTIONS,
  reason: { type: "string" },
  agent: { type: "string" },
} as const;

export const run = queueCommand({
  usage: USAGE,
  options: OPTIONS,
  args: ({ positionals }) => oneJobId(positionals, USAGE),
  run: async (ctx, jobId, { values }) => {
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
  },
});
