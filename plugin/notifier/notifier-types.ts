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

export interface NotifierOptions {
  queueDir: string;
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
export type ResolvedNotifierOptions = Required<Omit<NotifierOptions, "channels">> & {
  channels: Readonly<Record<string, ChannelTarget>>;
};

export const CONTEXT_KEY = "atomizer-job-queue:handoff";
export const WAKE_REASON = "hook:atomizer-job-queue";

/** Fills in every default; `??` per field, so an option passed as undefined still gets its default. */
export function resolveNotifierOptions(options: NotifierOptions): ResolvedNotifierOptions {
  return {
    queueDir: options.queueDir,
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
