import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { initQueue } from "../protocol/index.ts";

const USAGE =
  "usage: atomizer-jobs init --queue DIR\n\n" +
  "Creates DIR/outbox, DIR/inbox and DIR/archive, each with a .stignore (an existing one is kept).\n" +
  "  --queue DIR  the queue root (default: $ATOMIZER_QUEUE_DIR)\n";

export async function run(argv: string[]): Promise<number> {
  let values: { queue?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: { queue: { type: "string" }, help: { type: "boolean", short: "h" } },
      strict: true,
    }));
  } catch (error) {
    // A usage mistake, not a failure: say what was wrong and how to call it (exit 2, like a missing --queue).
    process.stderr.write(`init: ${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const root = values.queue ?? process.env.ATOMIZER_QUEUE_DIR;
  if (!root) {
    process.stderr.write(
      "init needs --queue DIR (or ATOMIZER_QUEUE_DIR): the folder that will hold outbox/, inbox/, archive/\n",
    );
    return 2;
  }
  // Absolute, so the folders to share in Syncthing are unambiguous whatever the working directory.
  const paths = await initQueue(resolve(root));
  process.stdout.write(
    `queue ready at ${paths.root}\n  outbox/  ${paths.outbox}\n  inbox/   ${paths.inbox}\n  archive/ ${paths.archive}\n`,
  );
  return 0;
}
