/** Node's setTimeout fires at once for delays above 2^31-1 ms (24.8 days); longer limits are chained. */
const MAX_DELAY_MS = 2 ** 31 - 1;

/** Calls `fire` at `atMs` (ms since the epoch), however far away; returns the cancel function. */
export function setTimerAt(atMs: number, fire: () => void, nowMs: () => number = Date.now): () => void {
  let timer: NodeJS.Timeout | undefined;
  let cancelled = false;
  const arm = () => {
    if (cancelled) return;
    const left = atMs - nowMs();
    if (left <= 0) {
      fire();
      return;
    }
    timer = setTimeout(arm, Math.min(left, MAX_DELAY_MS));
  };
  arm();
  return () => {
    cancelled = true;
    clearTimeout(timer);
  };
}
