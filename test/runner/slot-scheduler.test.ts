import { expect, test } from "vitest";
import { createScheduler } from "../../runner/slot-scheduler.ts";

test("oldest queued first, never more than the slots", () => {
  const scheduler = createScheduler(2);
  scheduler.enqueue("c", "2026-01-01T00:00:03Z");
  scheduler.enqueue("a", "2026-01-01T00:00:01Z");
  scheduler.enqueue("b", "2026-01-01T00:00:02Z");
  expect(scheduler.queued()).toEqual(["a", "b", "c"]);
  expect(scheduler.takeStartable()).toEqual(["a", "b"]);
  expect(scheduler.takeStartable()).toEqual([]);
  expect(scheduler.isRunning("a")).toBe(true);
  scheduler.finish("b");
  expect(scheduler.takeStartable()).toEqual(["c"]);
  expect(scheduler.running().sort()).toEqual(["a", "c"]);
});

test("a dequeued job never starts; a running job cannot be queued again", () => {
  const scheduler = createScheduler(1);
  scheduler.enqueue("a", "2026-01-01T00:00:01Z");
  scheduler.enqueue("b", "2026-01-01T00:00:02Z");
  expect(scheduler.dequeue("b")).toBe(true);
  expect(scheduler.dequeue("b")).toBe(false);
  expect(scheduler.takeStartable()).toEqual(["a"]);
  scheduler.enqueue("a", "2026-01-01T00:00:01Z");
  expect(scheduler.queued()).toEqual([]);
});
