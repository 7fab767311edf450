/**
 * Runs tasks one at a time per key, in arrival order; tasks of different keys run side by side. Both
 * sides need it: the runner puts every change to one job (watch event, cancel, exit, heartbeat) through
 * one, so two never interleave; the submitting side serialises two submits with one idempotency key.
 * A task that fails does not stop the ones queued after it.
 */
export interface KeyedSerial {
  run<T>(key: string, task: () => Promise<T>): Promise<T>;
  /** Resolves when every task queued so far, and any they queue meanwhile, has settled. */
  idle(): Promise<void>;
}

export function createKeyedSerial(): KeyedSerial {
  // Each key's last task, settled quietly; a key leaves the map once its queue runs dry.
  const tails = new Map<string, Promise<unknown>>();
  return {
    run<T>(key: string, task: () => Promise<T>): Promise<T> {
      const previous = tails.get(key) ?? Promise.resolve();
      const next = previous.then(task);
      const tail = next.catch(() => undefined);
      tails.set(key, tail);
      void tail.then(() => {
        if (tails.get(key) === tail) tails.delete(key);
      });
      return next;
    },
    async idle(): Promise<void> {
      while (tails.size > 0) await Promise.all([...tails.values()]);
    },
  };
}
