import { fetchText } from "../../submitter/mcp/tool-text.ts";
import { fetchResults } from "../../submitter/operations/fetch-results.ts";
import { cliAgent, oneJobId, out, outJson, QUEUE_OPTIONS, queueCommand } from "./cli-support.ts";
import { KEY_OPTIONS, KEY_USAGE } from "./key-options.ts";

const USAGE = `usage: atomizer-jobs results JOB_ID [--work DIR] [--queue DIR] [--agent NAME] [--trust-key FILE] [--json]

Copies a finished job's results into a local working folder (default <queue>/.work/<job_id>),
verifies them and summarises study.db, CSVs, plots and the log; draws plots from study.db into
<work>/plots/ and writes <work>/report.html (one page to open in a browser). With --trust-key, checks
the runner's signature.
${KEY_USAGE}`;

const OPTIONS = {
  ...QUEUE_OPTIONS,
  ...KEY_OPTIONS,
  work: { type: "string" },
  agent: { type: "string" },
} as const;

export const run = queueCommand({
  usage: USAGE,
  options: OPTIONS,
  args: ({ positionals }) => oneJobId(positionals, USAGE),
  context: ({ values }) => (values.work ? { workDir: values.work } : {}),
  run: async (ctx, jobId, { values }) => {
    const { summary } = await fetchResults(ctx, { job_id: jobId, max_images: 0 }, cliAgent(values.agent));
    if (values.json) outJson(summary);
    else
      out(
        fetchText(summary).map((line) =>
          line.replace(/not attached \(only 0 images per call\)/, `in ${summary.work_dir}`),
        ),
      );
    return summary.complete ? 0 : 3;
  },
});
