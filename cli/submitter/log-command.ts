import { join } from "node:path";
import { watch } from "chokidar";
import { LOG_FILE } from "../../protocol/index.ts";
import { isFinalState } from "../../submitter/jobs/job-state.ts";
import { tailLog } from "../../submitter/operations/tail-log.ts";
import { intOption, oneJobId, outJson, QUEUE_OPTIONS, queueCommand } from "./cli-support.ts";

const USAGE = `usage: atomizer-jobs log JOB_ID [--offset BYTES] [--max-bytes N] [--follow] [--queue DIR] [--json]

Prints a job's stdout.log. --follow keeps printing new output until the job is final.`;

const OPTIONS = {
  ...QUEUE_OPTIONS,
  offset: { type: "string" },
  "max-bytes": { type: "string" },
  follow: { type: "boolean", short: "f" },
} as const;

const CHUNK = 64 * 1024;
const FOLLOW_RECHECK_MS = 30_000;

export const run = queueCommand({
  usage: USAGE,
  options: OPTIONS,
  args: ({ values, positionals }) => ({
    jobId: oneJobId(positionals, USAGE),
    offset: intOption(values.offset, "offset", USAGE) ?? 0,
    maxBytes: intOption(values["max-bytes"], "max-bytes", USAGE),
  }),
  run: async (ctx, { jobId, offset: start, maxBytes }, { values }) => {
    let offset = start;
    if (values.json) {
      outJson(await tailLog(ctx, { job_id: jobId, offset, max_bytes: Math.min(maxBytes ?? CHUNK, CHUNK) }));
      return 0;
    }
    let budget = maxBytes ?? Number.POSITIVE_INFINITY;
    const watcher = values.follow
      ? watch(join(ctx.queue.inbox, jobId, LOG_FILE), { ignoreInitial: true })
      : undefined;
    try {
      for (;;) {
        const chunk = await tailLog(ctx, {
          job_id: jobId,
          offset,
          max_bytes: Math.max(1, Math.min(CHUNK, budget)),
        });
        process.stdout.write(chunk.text);
        budget -= chunk.next_offset - chunk.offset;
        offset = chunk.next_offset;
        if (budget <= 0) return 0;
        if (!chunk.eof) continue;
        if (!watcher || isFinalState(chunk.state as never)) return 0;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(done, FOLLOW_RECHECK_MS);
          function done() {
            clearTimeout(timer);
            watcher?.off("all", done);
            resolve();
          }
          watcher.on("all", done);
        });
      }
    } finally {
      await watcher?.close();
    }
  },
});
