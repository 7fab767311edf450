import { afterEach, expect, test, vi } from "vitest";
import { setTimerAt } from "../../runner/long-timer.ts";

afterEach(() => {
  vi.useRealTimers();
});

test.each([
  { name: "an hour", ms: 3600_000 },
  { name: "30 days (past Node's 2^31 ms timer limit)", ms: 30 * 24 * 3600_000 },
])("fires after $name, not before", ({ ms }) => {
  vi.useFakeTimers();
  const fired = vi.fn();
  setTimerAt(Date.now() + ms, fired);
  vi.advanceTimersByTime(ms - 1000);
  expect(fired).not.toHaveBeenCalled();
  vi.advanceTimersByTime(1000);
  expect(fired).toHaveBeenCalledTimes(1);
});

test("fires at once for a time already past, and never after cancel", () => {
  vi.useFakeTimers();
  const past = vi.fn();
  setTimerAt(Date.now() - 1, past);
  expect(past).toHaveBeenCalledTimes(1);
  const later = vi.fn();
  const cancel = setTimerAt(Date.now() + 5000, later);
  cancel();
  vi.advanceTimersByTime(10_000);
  expect(later).not.toHaveBeenCalled();
});
