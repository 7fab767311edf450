import { describe, expect, it } from "vitest";
import { DEFAULT_WAKE_LIMITS, nextWakeAt, pruneWakeHistory } from "../../../plugin/notifier/wake-limits.ts";

const FLOOD_ONLY = { minSpacingMs: 0, maxPerWindow: 5, windowMs: 60_000 };

describe("nextWakeAt", () => {
  it.each([
    { why: "no wake yet", history: [], now: 1_000, limits: DEFAULT_WAKE_LIMITS, expected: 1_000 },
    { why: "30 s spacing", history: [1_000], now: 11_000, limits: DEFAULT_WAKE_LIMITS, expected: 31_000 },
    {
      why: "spacing already passed",
      history: [1_000],
      now: 40_000,
      limits: DEFAULT_WAKE_LIMITS,
      expected: 40_000,
    },
    { why: "5 in the last minute", history: [0, 1, 2, 3, 4], now: 10, limits: FLOOD_ONLY, expected: 60_000 },
    { why: "4 in the last minute", history: [0, 1, 2, 3], now: 10, limits: FLOOD_ONLY, expected: 10 },
    {
      why: "oldest left the window",
      history: [0, 1, 2, 3, 4],
      now: 60_001,
      limits: FLOOD_ONLY,
      expected: 60_001,
    },
  ])("$why", ({ history, now, limits, expected }) => {
    expect(nextWakeAt(history, now, limits)).toBe(expected);
  });

  it("keeps at most maxPerWindow recent wakes", () => {
    expect(pruneWakeHistory([0, 1, 2, 3, 4, 5, 6], 10, FLOOD_ONLY)).toEqual([2, 3, 4, 5, 6]);
    expect(pruneWakeHistory([0, 1], 120_000, FLOOD_ONLY)).toEqual([]);
  });
});
