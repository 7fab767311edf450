import { runnersText } from "../../submitter/mcp/tool-text.ts";
import { runnerStatus } from "../../submitter/operations/runner-status.ts";
import { noPositionals, out, outJson, QUEUE_OPTIONS, queueCommand } from "./cli-support.ts";

const USAGE = `usage: atomizer-jobs runners [--queue DIR] [--json]

Shows every runner that published a heartbeat, and whether it has gone silent.`;

export const run = queueCommand({
  usage: USAGE,
  options: QUEUE_OPTIONS,
  args: ({ positionals }) => noPositionals(positionals, USAGE),
  run: async (ctx, _none, { values }) => {
    const result = await runnerStatus(ctx);
    if (values.json) outJson(result);
    else out(runnersText(result).filter((line) => !line.startsWith("next:")));
    return 0;
  },
});
