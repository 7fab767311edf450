/** Which queued jobs start next: oldest accepted first, at most `slots` at a time (NX licences). */
export interface Scheduler {
  enqueue(jobId: string, queuedAt: string): void;
  /** Takes a queued job off the queue (cancelled); false when it was not queued. */
  dequeue(jobId: string): boolean;
  /** Counts a job as running without starting it (a run adopted after a restart). */
  occupy(jobId: string): void;
  /** Jobs to start now; they count as running until finish(). */
  takeStartable(): string[];
  finish(jobId: string): void;
  /**
   * Puts a job taken by takeStartable back in the queue, kept from starting until release(): it waits
   * for something outside (a licence server) while still listed, cancellable and counted as queued.
   */
  hold(jobId: string, queuedAt: string): void;
  /** Lets every held job start again; returns them. */
  release(): string[];
  queued(): string[];
  running(): string[];
  isQueued(jobId: string): boolean;
  isRunning(jobId: string): boolean;
}

export function createScheduler(slots: number): Scheduler {
  const waiting = new Map<string, string>();
  const active = new Set<string>();
  const held = new Set<string>();
  const order = (): string[] =>
    [...waiting.entries()]
      .sort(([a, at], [b, bt]) => (at < bt ? -1 : at > bt ? 1 : a < b ? -1 : a > b ? 1 : 0))
      .map(([id]) => id);
  return {
    enqueue(jobId, queuedAt) {
      if (!active.has(jobId)) waiting.set(jobId, queuedAt);
    },
    dequeue: (jobId) => {
      held.delete(jobId);
      return waiting.delete(jobId);
    },
    occupy(jobId) {
      waiting.delete(jobId);
      active.add(jobId);
    },
    takeStartable() {
      const started: string[] = [];
      for (const jobId of order()) {
        if (active.size >= slots) break;
        if (held.has(jobId)) continue;
        waiting.delete(jobId);
        active.add(jobId);
        started.push(jobId);
      }
      return started;
    },
    finish(jobId) {
      active.delete(jobId);
    },
    hold(jobId, queuedAt) {
      active.delete(jobId);
      waiting.set(jobId, queuedAt);
      held.add(jobId);
    },
    release() {
      const released = [...held];
      held.clear();
      return released;
    },
    queued: order,
    running: () => [...active],
    isQueued: (jobId) => waiting.has(jobId),
    isRunning: (jobId) => active.has(jobId),
  };
}
