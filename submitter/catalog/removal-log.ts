const MAX_REMOVED = 1000;

/** Jobs whose every file vanished, with the change counter of that moment; bounded, oldest forgotten first. */
export class RemovalLog {
  readonly #removed = new Map<string, number>();

  add(jobId: string, change: number): void {
    this.#removed.delete(jobId);
    this.#removed.set(jobId, change);
    if (this.#removed.size > MAX_REMOVED) {
      const oldest = this.#removed.keys().next().value;
      if (oldest !== undefined) this.#removed.delete(oldest);
    }
  }

  /** The job has files again. */
  delete(jobId: string): void {
    this.#removed.delete(jobId);
  }

  /** Ids removed after `counter`, and whether the record reaches back that far. */
  since(counter: number): { ids: string[]; complete: boolean } {
    const ids = [...this.#removed].filter(([, change]) => change > counter).map(([id]) => id);
    const oldest = this.#removed.values().next().value;
    const complete = this.#removed.size < MAX_REMOVED || (oldest !== undefined && oldest <= counter);
    return { ids, complete };
  }
}
