import type { NotifierReads } from "./catalog-reads.ts";
import type { LedgerBook } from "./ledger-book.ts";
import type { Clock, NotifierLog, NotifierPorts, ResolvedNotifierOptions } from "./notifier-types.ts";

export type LogLevel = keyof NotifierLog;
export type Log = (level: LogLevel, message: string) => void;

/** What the engine's parts are built with, fixed for the engine's life. */
export interface NotifierContext {
  readonly options: ResolvedNotifierOptions;
  readonly ports: NotifierPorts;
  readonly clock: Clock;
  readonly log: Log;
}

/** The lock, as far as a part needs it: checked right before each act on the outside world. */
export interface LockCheck {
  holds(): Promise<boolean>;
}

/**
 * One activation of the engine (the lock held, the ledger open, the job catalog open), handed to
 * each call of a part: the parts never reach the engine, and report what they found (the lock lost,
 * a flush to retry) instead of acting on it. Once `book` is closed the session is over.
 */
export interface Session {
  readonly book: LedgerBook;
  readonly reads: NotifierReads;
  readonly lock: LockCheck;
}

/** The notifier's log lines, each starting with its name. */
export function prefixedLog(log: NotifierLog): Log {
  return (level, message) => log[level](`atomizer-job-queue notifier: ${message}`);
}
