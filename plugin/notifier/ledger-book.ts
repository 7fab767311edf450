import type { Ledger, LedgerEntry } from "./notifier-ledger.ts";
import { saveLedger } from "./notifier-ledger.ts";

/**
 * The ledger of one activation (lock held), in memory, with what changed since the last save. Saves
 * run one after another, so a slow older write never lands after a newer one. Once closed (the engine
 * stopped or lost the lock, and the ledger belongs to the next holder) nothing changes or is saved.
 */
export class LedgerBook {
  readonly #dir: string;
  readonly #ledger: Ledger;
  #firstStart: boolean;
  #dirty = false;
  #closed = false;
  #writes: Promise<void> = Promise.resolve();

  constructor(dir: string, ledger: Ledger, firstStart: boolean) {
    this.#dir = dir;
    this.#ledger = ledger;
    this.#firstStart = firstStart;
  }

  /** The ledger did not exist when this activation began and its first scan is still sorting history from new work. */
  get firstStart(): boolean {
    return this.#firstStart;
  }

  /** The first scan is over: from now on every job that ends is new work. */
  endFirstScan(): void {
    this.#firstStart = false;
  }

  get open(): boolean {
    return !this.#closed;
  }

  get(id: string): LedgerEntry | undefined {
    return this.#ledger.jobs[id];
  }

  entries(): LedgerEntry[] {
    return Object.values(this.#ledger.jobs);
  }

  add(entry: LedgerEntry): void {
    if (this.#closed) return;
    this.#ledger.jobs[entry.job_id] = entry;
    this.#dirty = true;
  }

  remove(id: string): void {
    if (this.#closed || !(id in this.#ledger.jobs)) return;
    delete this.#ledger.jobs[id];
    this.#dirty = true;
  }

  /** Changes one entry in place; false when there is none or the book is closed. */
  change(id: string, edit: (entry: LedgerEntry) => void): boolean {
    const entry = this.#ledger.jobs[id];
    if (this.#closed || !entry) return false;
    edit(entry);
    this.#dirty = true;
    return true;
  }

  /** Marks the whole ledger for saving (the first scan of an activation writes it even unchanged). */
  touch(): void {
    if (!this.#closed) this.#dirty = true;
  }

  /** Saves the ledger when it changed; after every save queued before. */
  commit(): Promise<void> {
    const write = this.#writes.then(async () => {
      if (!this.#dirty || this.#closed) return;
      this.#dirty = false;
      try {
        await saveLedger(this.#dir, this.#ledger);
      } catch (error) {
        this.#dirty = true;
        throw error;
      }
    });
    this.#writes = write.catch(() => undefined);
    return write;
  }

  /** Closes the book; resolves once a save already under way has ended. */
  close(): Promise<void> {
    this.#closed = true;
    return this.#writes;
  }
}
