import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import type { QueuePaths, TrustedKey } from "../../protocol/index.ts";
import {
  describeZodError,
  errnoCode,
  isConflictCopy,
  isSyncthingArtefact,
  RunnerHeartbeatSchema,
  readJsonFile,
  verifyHeartbeatSignature,
} from "../../protocol/index.ts";
import { viewShape } from "./view-schema.ts";

/**
 * A runner as runner_status shows it: its heartbeat's fields (an unreadable heartbeat has only the
 * host, empty lists and its problem), how long ago it was heard, and whether it went silent: not heard
 * from for 3 intervals without saying it was stopping (stopped_at, PROTOCOL.md section 9).
 */
export const RunnerViewSchema = z.object({
  ...viewShape(RunnerHeartbeatSchema.shape, ["host"]),
  ...viewShape(RunnerHeartbeatSchema.partial().shape, ["version", "pid", "slots"]),
  ...viewShape(RunnerHeartbeatSchema.shape, ["running", "queued"]),
  ...viewShape(RunnerHeartbeatSchema.partial().shape, ["started_at", "last_seen", "interval_s"]),
  age_s: z.number().optional(),
  silent: z.boolean(),
  ...viewShape(RunnerHeartbeatSchema.shape, ["stopped_at", "waiting_for", "trusted_keys", "record_key"]),
  problem: z.string().optional(),
});
export type RunnerView = z.infer<typeof RunnerViewSchema>;

/** A runner not heard from for this many intervals is silent (PROTOCOL.md section 9). */
export const SILENT_AFTER_INTERVALS = 3;

/**
 * Every runner heartbeat in inbox/.runners/, newest first; an unreadable file is listed with its problem.
 * With `verifiedBy`, only heartbeats signed by one of those keys: what a decision may rest on.
 */
export async function readRunners(
  queue: QueuePaths,
  now: Date,
  { verifiedBy = [] }: { verifiedBy?: readonly TrustedKey[] } = {},
): Promise<RunnerView[]> {
  let names: string[];
  try {
    names = await readdir(queue.runnersDir);
  } catch (error) {
    const code = errnoCode(error);
    if (code === "ENOENT" || code === "ENOTDIR") return [];
    throw error;
  }
  const views: RunnerView[] = [];
  for (const name of names) {
    if (
      !name.endsWith(".json") ||
      isSyncthingArtefact(name) ||
      isConflictCopy(name) ||
      name.startsWith(".")
    ) {
      continue;
    }
    const host = name.slice(0, -".json".length);
    try {
      const parsed = RunnerHeartbeatSchema.safeParse(await readJsonFile(join(queue.runnersDir, name)));
      if (!parsed.success) {
        if (verifiedBy.length > 0) continue;
        views.push({ host, running: [], queued: [], silent: true, problem: describeZodError(parsed.error) });
        continue;
      }
      const beat = parsed.data;
      if (verifiedBy.length > 0 && !verifyHeartbeatSignature(beat, verifiedBy).ok) continue;
      const age = Math.max(0, (now.getTime() - Date.parse(beat.last_seen)) / 1000);
      views.push({
        host: beat.host,
        version: beat.version,
        ...(beat.pid !== undefined ? { pid: beat.pid } : {}),
        slots: beat.slots,
        running: beat.running,
        queued: beat.queued,
        started_at: beat.started_at,
        last_seen: beat.last_seen,
        interval_s: beat.interval_s,
        age_s: Math.round(age),
        ...(beat.stopped_at !== undefined ? { stopped_at: beat.stopped_at } : {}),
        ...(beat.waiting_for !== undefined ? { waiting_for: beat.waiting_for } : {}),
        // Present: the runner runs only jobs signed by one of these keys (submit_job checks first).
        ...(beat.trusted_keys !== undefined ? { trusted_keys: beat.trusted_keys } : {}),
        ...(beat.record_key !== undefined ? { record_key: beat.record_key } : {}),
        silent: beat.stopped_at === undefined && age > SILENT_AFTER_INTERVALS * beat.interval_s,
      });
    } catch (error) {
      const code = errnoCode(error);
      if (code === "ENOENT") continue;
      views.push({ host, running: [], queued: [], silent: true, problem: (error as Error).message });
    }
  }
  return views.sort((a, b) => (b.last_seen ?? "").localeCompare(a.last_seen ?? ""));
}
