import type { RunnerConfig } from "../config.ts";
import type { RunnerContext } from "../context.ts";
import type { Logger } from "../log.ts";
import type { RunnerBridge } from "./bridge.ts";

/**
 * Starts the NATS bridge of a `--nats` runner once its own scan is done. The bridge module (and the
 * NATS client with it) is loaded only here: a folder-queue runner never loads either.
 */
export async function startNatsBridge(
  ctx: RunnerContext,
  config: RunnerConfig & { nats: NonNullable<RunnerConfig["nats"]> },
  log: Logger,
  now: () => Date,
): Promise<RunnerBridge> {
  const { createRunnerBridge, runnerJobs } = await import("./bridge.ts");
  // The bridge stops and refuses jobs through the runner's own paths, not through cancel files.
  const bridge = createRunnerBridge({ config, log, now, jobs: runnerJobs(ctx) });
  await bridge.start();
  return bridge;
}
