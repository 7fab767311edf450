import { z } from "zod";
import type { ServerContext } from "../context.ts";
import { RunnerViewSchema, readRunners } from "../jobs/runners.ts";

export const RunnerStatusOutput = {
  runners: z.array(RunnerViewSchema),
  active: z.number().int(),
  silent: z.number().int(),
  stopped: z.number().int(),
};
const RunnerStatusOutputSchema = z.object(RunnerStatusOutput);
export type RunnerStatusResult = z.infer<typeof RunnerStatusOutputSchema>;

const MAX_RUNNERS = 50;

/** Every runner that published a heartbeat in inbox/.runners/: active, stopped, or silent after 3 x its interval. */
export async function runnerStatus(ctx: ServerContext): Promise<RunnerStatusResult> {
  const runners = (await readRunners(ctx.queue, ctx.now())).slice(0, MAX_RUNNERS);
  const silent = runners.filter((runner) => runner.silent).length;
  const stopped = runners.filter((runner) => runner.stopped_at !== undefined).length;
  return { runners, active: runners.length - silent - stopped, silent, stopped };
}
