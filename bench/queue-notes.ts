import type { CachedQueue } from "./queue-cache.ts";

/** How a benchmark's queue came to be, for its notes: written by this run, or reused from the cache. */
export function describeWritten(queue: CachedQueue): string {
  const count = queue.count.toLocaleString("en-US");
  const seconds = (queue.writtenMs / 1000).toFixed(1);
  return queue.reused
    ? `the ${count}-job queue was reused from the queue cache (an earlier run wrote it in ${seconds} s)`
    : `the ${count}-job queue was written by this run in ${seconds} s and cached for later runs`;
}
