import type { Clock, NotifierLog, NotifierPorts, ResolvedNotifierOptions } from "./notifier-types.ts";
import type { NotifierReads } from "./queue-reads.ts";

export type LogLevel = keyof NotifierLog;
export type Log = (level: LogLevel, message: string) => void;

/**
 * What the engine's parts are built with, fixed for the engine's life. The ledger and the lock are not
 * in it: the engine owns them and hands the current ledger to each call, and the parts return what
 * they found (the lock lost, a flush to retry) instead of acting on the engine.
 */
export interface NotifierContext {
  readonly options: ResolvedNotifierOptions;
  readonly ports: NotifierPorts;
  readonly clock: Clock;
  readonly reads: NotifierReads;
  readonly log: Log;
}

/** The notifier's log lines, each starting with its name. */
export function prefixedLog(log: NotifierLog): Log {
  return (level, message) => log[level](`atomizer-job-queue notifier: ${message}`);
}
