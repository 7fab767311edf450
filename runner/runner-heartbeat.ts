import { mkdir } from "node:fs/promises";
import type { RunnerHeartbeat, SigningKey } from "../protocol/index.ts";
import { RunnerHeartbeatSchema, signHeartbeat, writeJsonAtomic } from "../protocol/index.ts";
import type { RunnerContext } from "./context.ts";
import type { RunnerPaths } from "./paths.ts";
import { heartbeatKeys } from "./runner-keys.ts";

/** What the runner says of itself now: alive, what it holds, what it waits for, which keys it uses. */
export function runnerHeartbeatOf(
  ctx: Pick<RunnerContext, "config" | "licence" | "runnerInfo" | "scheduler" | "startedAt" | "now" | "keys">,
  stoppedAt?: Date,
): RunnerHeartbeat {
  const waitingFor = ctx.licence.waitingFor();
  return {
    ...(stoppedAt ? { stopped_at: stoppedAt.toISOString() } : {}),
    ...(waitingFor ? { waiting_for: waitingFor } : {}),
    host: ctx.config.host,
    version: ctx.runnerInfo.version,
    pid: process.pid,
    slots: ctx.config.slots,
    running: ctx.scheduler.running(),
    queued: ctx.scheduler.queued(),
    started_at: ctx.startedAt.toISOString(),
    last_seen: ctx.now().toISOString(),
    interval_s: ctx.config.heartbeatS,
    ...heartbeatKeys(ctx.keys),
  };
}

/**
 * Rewrites inbox/.runners/<host>.json, so submitters can tell this runner is alive and what it holds;
 * signed with the runner's record key when it has one, so a submitter with its .pub can tell it from a
 * heartbeat someone else wrote there.
 */
export async function writeRunnerHeartbeat(
  paths: RunnerPaths,
  heartbeat: RunnerHeartbeat,
  key?: SigningKey,
): Promise<void> {
  await mkdir(paths.queue.runnersDir, { recursive: true });
  const checked = RunnerHeartbeatSchema.parse(heartbeat);
  await writeJsonAtomic(paths.runnerHeartbeat(heartbeat.host), key ? signHeartbeat(checked, key) : checked);
}
