// Which change of a job one process has reported: several processes write one index, so "new to my
// subscribers" is the stored counter against what this process reported, never whether it wrote it.
import { expect, test } from "vitest";
import { EmittedChanges } from "../../../submitter/catalog/emitted-changes.ts";

test.each([
  ["a change stored before this process started", 5, [], 4, false],
  ["a change stored after it started, by anyone", 5, [], 6, true],
  ["a change this process already reported", 5, [7], 7, false],
  ["a later change than the one reported", 5, [7], 8, true],
  ["an older counter than the one reported", 5, [9], 8, false],
])("%s", (_what, start, reported, change, isNew) => {
  const emitted = new EmittedChanges(start);
  for (const at of reported) emitted.note("job-a", at);
  expect(emitted.isNew("job-a", change)).toBe(isNew);
  expect(emitted.has("job-a")).toBe(reported.length > 0);
  expect(emitted.afterStart(change)).toBe(change > start);
});

test("jobs are remembered apart, and the oldest is forgotten beyond 10,000 (counted from the start again)", () => {
  const emitted = new EmittedChanges(0);
  emitted.note("job-first", 50);
  for (let i = 0; i < 10_000; i++) emitted.note(`job-${i}`, 100 + i);
  expect(emitted.has("job-first")).toBe(false);
  expect(emitted.isNew("job-first", 50)).toBe(true);
  expect(emitted.has("job-9999")).toBe(true);
  expect(emitted.isNew("job-9999", 100 + 9999)).toBe(false);
  expect(emitted.isNew("job-0", 100)).toBe(false);
});
