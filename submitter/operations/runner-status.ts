import { z } from "zod";
import type { ServerContext } from "../context.ts";
import { RunnerViewSchema, readRunners } from "../jobs/runners.ts";

export const RunnerStatusOutput = {
  runners: z.array(RunnerViewSchema),
  active: z.number().int(),
  silent: z.number().int(),
  stopped: z.number().int(),
  /** How the queue reaches the runners: Syncthing folders, or NATS JetStream (several workstations). */
  backend: z.enum(["folder", "nats"]),
  /** With backend "nats": the server's URL, never with credentials. */
  nats_url: z.string().optional(),
};
const RunnerStatusOutputSchema = z.object(RunnerStatusOutput);
export type RunnerStatusResult = z.infer<typeof RunnerStatusOutputSchema>;

const MAX_RUNNERS = 50;

/**
 * Every runner that published a heartbeat in inbox/.runners/ (with NATS: its mirror of `runner.<host>`):
 * active, stopped, or silent after 3 x its interval; and which backend carries the queue.
 */
export async function runnerStatus(ctx: ServerContext): Promise<RunnerStatusResult> {
  const runners = (await readRunners(ctx.queue, ctx.now())).slice(0, MAX_RUNNERS);
  const silent = runners.filter((runner) => runner.silent).length;
  const stopped = runners.filter((runner) => runner.stopped_at !== undefined).length;
  return {
    runners,
    active: runners.length - silent - stopped,
    silent,
    stopped,
    ...(ctx.nats ? { backend: "nats" as const, nats_url: ctx.nats.url } : { backend: "folder" as const }),
  };
}
