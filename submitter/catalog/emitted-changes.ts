/** How many jobs' last reported change one process remembers; older ones may be reported once more. */
const MAX_REMEMBERED = 10_000;

/**
 * Which change of each job this process last reported to its subscribers. Several server processes
 * write one index: when another process stored a change first, this one still finds the row "new" to
 * its own subscribers by comparing the stored counter with what it reported, not with what it wrote.
 * Bounded: a forgotten job counts from the process's start, which at worst repeats an event.
 */
export class EmittedChanges {
  readonly #start: number;
  readonly #last = new Map<string, number>();

  constructor(startCounter: number) {
    this.#start = startCounter;
  }

  isNew(jobId: string, change: number): boolean {
    return change > (this.#last.get(jobId) ?? this.#start);
  }

  has(jobId: string): boolean {
    return this.#last.has(jobId);
  }

  afterStart(change: number): boolean {
    return change > this.#start;
  }

  note(jobId: string, change: number): void {
    this.#last.delete(jobId);
    this.#last.set(jobId, change);
    if (this.#last.size > MAX_REMEMBERED) {
      const oldest = this.#last.keys().next().value;
      if (oldest !== undefined) this.#last.delete(oldest);
    }
  }
}
