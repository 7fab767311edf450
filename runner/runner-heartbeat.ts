import { mkdir } from "node:fs/promises";
import type { RunnerHeartbeat } from "../protocol/index.ts";
import { RunnerHeartbeatSchema, writeJsonAtomic } from "../protocol/index.ts";
import type { RunnerPaths } from "./paths.ts";

/** Rewrites inbox/.runners/<host>.json, so submitters can tell this runner is alive and what it holds. */
export async function writeRunnerHeartbeat(paths: RunnerPaths, heartbeat: RunnerHeartbeat): Promise<void> {
  await mkdir(paths.queue.runnersDir, { recursive: true });
  await writeJsonAtomic(paths.runnerHeartbeat(heartbeat.host), RunnerHeartbeatSchema.parse(heartbeat));
}
