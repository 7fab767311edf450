import { runnersText } from "../../submitter/mcp/tool-text.ts";
import { runnerStatus } from "../../submitter/operations/runner-status.ts";
import {
  noPositionals,
  out,
  outJson,
  parse,
  QUEUE_OPTIONS,
  queueRoot,
  runCli,
  withContext,
} from "./cli-support.ts";

const USAGE = `usage: atomizer-jobs runners [--queue DIR] [--json]

Shows every runner that published a heartbeat, and whether it has gone silent.`;

export function run(argv: string[]): Promise<number> {
  return runCli(argv, USAGE, async () => {
    const { values, positionals } = parse(argv, QUEUE_OPTIONS, USAGE);
    noPositionals(positionals, USAGE);
    return withContext({ queueRoot: queueRoot(values.queue, USAGE), withIndex: false }, async (ctx) => {
      const result = await runnerStatus(ctx);
      if (values.json) outJson(result);
      else out(runnersText(result).filter((line) => !line.startsWith("next:")));
      return 0;
    });
  });
}
