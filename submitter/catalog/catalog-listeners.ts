import type { CatalogEvent, CatalogListener } from "./job-catalog.ts";

/** Subscribers by job id ("*" for every job); one subscriber's failure never stops the others. */
export class CatalogListeners {
  readonly #listeners = new Map<string, Set<CatalogListener>>();

  subscribe(jobId: string, listener: CatalogListener): () => void {
    let set = this.#listeners.get(jobId);
    if (!set) {
      set = new Set();
      this.#listeners.set(jobId, set);
    }
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0) this.#listeners.delete(jobId);
    };
  }

  emit(event: CatalogEvent): void {
    for (const key of [event.job_id, "*"]) {
      for (const listener of this.#listeners.get(key) ?? []) {
        try {
          listener(event);
        } catch {
          // One subscriber's failure must not stop the others.
        }
      }
    }
  }

  clear(): void {
    this.#listeners.clear();
  }
}
