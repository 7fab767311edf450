import { stat } from "node:fs/promises";
import type { ActiveRun, RunnerContext } from "./context.ts";
import { readProgress } from "./progress-reader.ts";
import { publishLog } from "./results-publisher.ts";

/** One heartbeat of a running job: progress, heartbeat_at, and stdout.log when it grew. */
export async function beatRun(ctx: RunnerContext, run: ActiveRun): Promise<void> {
  if (run.finishing) return;
  const jobId = run.jobId;
  run.progress = await readProgress(ctx.paths.workResults(jobId), run.progress, ctx.now());
  const size = await stat(ctx.paths.workLog(jobId)).then(
    (s) => s.size,
    () => -1,
  );
  if (size >= 0 && size !== run.publishedLogSize) {
    await publishLog(ctx.paths.workJob(jobId), ctx.paths.inboxJob(jobId));
    run.publishedLogSize = size;
  }
  if (run.finishing) return;
  await ctx.inbox.update(jobId, {
    heartbeat_at: ctx.now().toISOString(),
    ...(run.progress ? { progress: run.progress } : {}),
  });
}
