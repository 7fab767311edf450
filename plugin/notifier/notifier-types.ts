import type { NatsSettings } from "../../protocol/nats-connect.ts";
import { natsMirrorFor } from "../../submitter/catalog/nats-mirror-location.ts";
import type { ChannelTarget } from "./notifier-config.ts";
import type { WakeLimits } from "./wake-limits.ts";
import { DEFAULT_WAKE_LIMITS } from "./wake-limits.ts";

export interface NotifierLog {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

/** Time, injectable so tests can step through the wake limits without waiting. */
export interface Clock {
  now(): number;
  setTimeout(run: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const SYSTEM_CLOCK: Clock = {
  now: () => Date.now(),
  setTimeout: (run, ms) => setTimeout(run, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

export interface WakeRequest {
  source: "hook";
  intent: "immediate";
  reason: string;
  agentId: string;
  sessionKey: string;
}

/** Everything the engine does to the outside world; OpenClaw in the gateway, recorders in tests. */
export interface NotifierPorts {
  /** Posts one message; throws when it did not go out. */
  sendText(target: ChannelTarget, text: string): Promise<{ messageId?: string }>;
  /** False when OpenClaw did not queue it (an identical event is still waiting). */
  enqueueSystemEvent(
    text: string,
    options: { agentId: string; sessionKey: string; contextKey: string },
  ): boolean;
  requestHeartbeat(request: WakeRequest): void;
  log: NotifierLog;
  clock?: Clock;
}

/** A queue carried by NATS JetStream: the notifier follows its local mirror, a folder queue. */
export interface NotifierNats {
  settings: NatsSettings;
  /** Where openNats finds credentials (ATOMIZER_NATS_TOKEN, ...); default process.env. */
  env?: NodeJS.ProcessEnv;
  /**
   * The state folder holding the mirror and its index (default ATOMIZER_STATE_DIR, else per user):
   * the same one as the gateway's MCP servers, so that one process downloads for all of them.
   */
  stateDir?: string;
}

export interface NotifierOptions {
  /** The folder queue's root; left out with `nats`. */
  queueDir?: string;
  nats?: NotifierNats;
  agentId: string;
  sessionKey: string;
  channels: Readonly<Record<string, ChannelTarget>>;
  resendAfterMs: number;
  /** Jobs that end within this window go out as one event. */
  batchWindowMs?: number;
  /** Waits between channel send attempts; attempts = length + 1. */
  sendRetryDelaysMs?: readonly number[];
  /** Safety-net rescan of every job, for events a watcher missed. */
  rescanMs?: number;
  /** Lock refresh period; a lock not refreshed for 3 periods is taken over. */
  lockRefreshMs?: number;
  /** On the very first start, jobs that ended longer ago than this get no channel message. */
  staleMessageAfterMs?: number;
  /** Quiet time after a file change in a job before it is read (Syncthing writes in bursts). */
  settleMs?: number;
  wakeLimits?: WakeLimits;
}

/** NotifierOptions with every default filled in. */
export type ResolvedNotifierOptions = Required<Omit<NotifierOptions, "channels" | "nats">> & {
  channels: Readonly<Record<string, ChannelTarget>>;
  /** The folder the notifier reads and keeps its ledger and lock in: the queue, or NATS's mirror of it. */
  queueDir: string;
  nats: NotifierNats | undefined;
};

export const CONTEXT_KEY = "atomizer-job-queue:handoff";
export const WAKE_REASON = "hook:atomizer-job-queue";

/** Fills in every default; `??` per field, so an option passed as undefined still gets its default. */
export function resolveNotifierOptions(options: NotifierOptions): ResolvedNotifierOptions {
  return {
    queueDir: notifierQueueDir(options),
    nats: options.nats,
    agentId: options.agentId,
    sessionKey: options.sessionKey,
    channels: options.channels,
    resendAfterMs: options.resendAfterMs,
    batchWindowMs: options.batchWindowMs ?? 2_000,
    sendRetryDelaysMs: options.sendRetryDelaysMs ?? [2_000, 10_000, 60_000],
    rescanMs: options.rescanMs ?? 60_000,
    lockRefreshMs: options.lockRefreshMs ?? 10_000,
    staleMessageAfterMs: options.staleMessageAfterMs ?? 3600_000,
    settleMs: options.settleMs ?? 500,
    wakeLimits: options.wakeLimits ?? DEFAULT_WAKE_LIMITS,
  };
}

/**
 * The folder queue the notifier follows: queueDir, or the mirror of the NATS queue (the one the MCP
 * servers of this user read), so the lock is per queue acted for, as with a folder queue.
 */
function notifierQueueDir(options: NotifierOptions): string {
  if (options.nats && options.queueDir !== undefined) {
    throw new Error("the notifier follows one queue: give it queueDir or nats, not both");
  }
  if (options.nats) return natsMirrorFor(options.nats.stateDir, options.nats.settings.url).queueRoot;
  if (options.queueDir === undefined) throw new Error("the notifier needs a queue: queueDir or nats");
  return options.queueDir;
}
