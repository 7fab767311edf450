import type { queuePaths } from "../../protocol/index.ts";
import type { Ledger } from "./notifier-ledger.ts";
import type { Clock, NotifierLog, NotifierPorts, ResolvedNotifierOptions } from "./notifier-types.ts";

/**
 * What the engine shares with the parts it is built from. The ledger and the active flag change
 * over the engine's life (each activation loads the ledger again), so they are read through functions.
 */
export interface NotifierContext {
  readonly options: ResolvedNotifierOptions;
  readonly ports: NotifierPorts;
  readonly clock: Clock;
  readonly queue: ReturnType<typeof queuePaths>;
  /** `<queue>/.state/notifier/`: ledger.json + lock.json. */
  readonly dir: string;
  /** This engine's lock owner id. */
  readonly owner: string;
  log(level: keyof NotifierLog, message: string): void;
  /** Runs `task` after everything queued before it, and only while this engine is active. */
  serial(task: () => Promise<void>): Promise<void>;
  ledger(): Ledger | undefined;
  active(): boolean;
  stopped(): boolean;
  markDirty(): void;
  /** Saves the ledger when it changed and this engine still holds the lock. */
  commit(): Promise<void>;
  /** Goes passive at once: another process holds the lock now. */
  lostLock(): Promise<void>;
}
