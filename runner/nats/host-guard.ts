import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { z } from "zod";
import { CarriedFileSchema, runnerKey } from "../../protocol/nats-layout.ts";
import { readRecord } from "../../protocol/nats-records.ts";
import { liveness, processStart } from "../../protocol/process-identity.ts";
import { safeHostName } from "../config.ts";
import type { BridgeContext } from "./bridge-context.ts";

// One runner per host name on a NATS queue: the claims are the host's, so a second runner under the
// same --host would renew, commit and adopt the first one's jobs as its own. Each bridge puts an
// instance id beside its heartbeat in `runner.<host>`, and a bridge starting finds out from it
// whether that name is in use.

export const RunnerInstanceSchema = z.object({
  id: z.string().min(1),
  /** The computer's own name (not --host): a predecessor on the same computer can be checked for life. */
  machine: z.string(),
  pid: z.number().int().positive(),
  start: z.string().nullable(),
});
export type RunnerInstance = z.infer<typeof RunnerInstanceSchema>;

/** `runner.<host>` as the bridge writes it: the heartbeat file's text, and who wrote it. */
export const RunnerRecordSchema = CarriedFileSchema.extend({ instance: RunnerInstanceSchema.optional() });

/** Heartbeats missed before a runner counts as gone. */
const MISSED_BEATS = 3;

export async function thisInstance(): Promise<RunnerInstance> {
  return { id: randomUUID(), machine: hostname(), pid: process.pid, start: await processStart(process.pid) };
}

/** The --host name is a NATS key token and a file name: only what safeHostName leaves. */
export function hostNameProblem(host: string): string | undefined {
  if (safeHostName(host) === host) return undefined;
  return `--host ${JSON.stringify(host)} is not a usable runner name: use lowercase a-z, 0-9, ".", "_" and "-" only (for example ${safeHostName(host)})`;
}

function heartbeatFields(text: string): { stopped?: boolean; intervalS?: number; pid?: number } {
  try {
    const parsed: unknown = JSON.parse(text);
    if (!parsed || typeof parsed !== "object") return {};
    const beat = parsed as Record<string, unknown>;
    return {
      stopped: typeof beat.stopped_at === "string",
      ...(typeof beat.interval_s === "number" ? { intervalS: beat.interval_s } : {}),
      ...(typeof beat.pid === "number" ? { pid: beat.pid } : {}),
    };
  } catch {
    return {};
  }
}

/**
 * Throws when `runner.<host>` shows another runner live under this host name: a heartbeat younger
 * than three of its intervals, not stopped, from another instance (on this computer: one whose
 * process still runs; a runner killed without its last heartbeat does not count).
 */
export async function refuseSecondRunner(
  ctx: Pick<BridgeContext, "q" | "host" | "now">,
  instance: RunnerInstance,
  heartbeatS: number,
): Promise<void> {
  const read = await readRecord(ctx.q.kv, runnerKey(ctx.host), RunnerRecordSchema);
  if (!read) return;
  const { text, written_at, instance: other } = read.value;
  if (other?.id === instance.id) return;
  const beat = heartbeatFields(text);
  if (beat.stopped) return;
  const ageMs = ctx.now().getTime() - Date.parse(written_at);
  if (ageMs > MISSED_BEATS * (beat.intervalS ?? heartbeatS) * 1000) return;
  if (other && other.machine === instance.machine) {
    if ((await liveness({ pid: other.pid, start: other.start })) === "gone") return;
  }
  const pid = other?.pid ?? beat.pid;
  throw new Error(
    `another runner is live as host ${ctx.host} on this NATS queue (heartbeat ${Math.max(0, Math.round(ageMs / 1000))} s ago, pid ${pid ?? "unknown"} on ${other?.machine || "an unknown computer"}): give this one another --host or stop the other`,
  );
}
