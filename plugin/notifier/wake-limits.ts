/**
 * OpenClaw runs a wake-triggered agent turn at most every 30 s and 5 per minute (its flood guard
 * defers the rest); the notifier keeps below that itself so no wake it asks for is dropped.
 */
export interface WakeLimits {
  minSpacingMs: number;
  maxPerWindow: number;
  windowMs: number;
}

export const DEFAULT_WAKE_LIMITS: WakeLimits = { minSpacingMs: 30_000, maxPerWindow: 5, windowMs: 60_000 };

/** The earliest time at or after `now` when another wake keeps within the limits. */
export function nextWakeAt(history: readonly number[], now: number, limits: WakeLimits): number {
  let at = now;
  const last = history.at(-1);
  if (last !== undefined) at = Math.max(at, last + limits.minSpacingMs);
  const recent = history.filter((t) => t > at - limits.windowMs);
  if (recent.length >= limits.maxPerWindow) {
    // Wait until the oldest wake that would still count has left the window.
    const oldest = recent[recent.length - limits.maxPerWindow];
    if (oldest !== undefined) at = Math.max(at, oldest + limits.windowMs);
  }
  return at;
}

/** Keeps only the wakes that can still matter for the limits. */
export function pruneWakeHistory(history: readonly number[], now: number, limits: WakeLimits): number[] {
  return history
    .filter((t) => t > now - Math.max(limits.windowMs, limits.minSpacingMs))
    .slice(-limits.maxPerWindow);
}
