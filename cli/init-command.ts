import { parseArgs } from "node:util";
import { initQueue } from "../protocol/index.ts";

export async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { queue: { type: "string" } }, strict: true });
  const root = values.queue ?? process.env.ATOMIZER_QUEUE_DIR;
  if (!root) {
    process.stderr.write(
      "init needs --queue DIR (or ATOMIZER_QUEUE_DIR): the folder that will hold outbox/, inbox/, archive/\n",
    );
    return 2;
  }
  const paths = await initQueue(root);
  process.stdout.write(
    `queue ready at ${paths.root}\n  outbox/  ${paths.outbox}\n  inbox/   ${paths.inbox}\n  archive/ ${paths.archive}\n`,
  );
  return 0;
}
