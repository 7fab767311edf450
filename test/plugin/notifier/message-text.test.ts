import { describe, expect, it } from "vitest";
import {
  channelMessage,
  formatDuration,
  logLinesFor,
  MAX_MESSAGE_CHARS,
} from "../../../plugin/notifier/message-text.ts";
import { baseJob } from "./queue-fixture.ts";

const ID = "job-20260210-143022-starspec-m1-wfe-sweep";

describe("channel message", () => {
  it.each([
    { ms: 45_000, text: "45s" },
    { ms: 192_000, text: "3m 12s" },
    { ms: 8_040_000, text: "2h 14m" },
  ])("formats $ms ms as $text", ({ ms, text }) => {
    expect(formatDuration(ms)).toBe(text);
  });

  it("gives a failed job's error kind and last log lines, within the length bound", () => {
    const job = baseJob(ID, {
      status: "failed",
      started_at: "2026-02-10T14:31:00Z",
      finished_at: "2026-02-10T14:34:12Z",
      exit_code: 1,
      error: { kind: "exit_code", message: "script exited with 1\nmore detail" },
    });
    const log = Array.from({ length: 40 }, (_, i) => `line ${i} ${"x".repeat(300)}`);
    const text = channelMessage(job, "failed", logLinesFor(job, log));
    expect(text.startsWith(`❌ ${ID} failed after 3m 12s`)).toBe(true);
    expect(text).toContain("exit_code (exit 1): script exited with 1");
    expect(text).toContain("last log lines:");
    expect(text).toContain("line 39");
    expect(text).not.toContain("line 0 ");
    expect(text.length).toBeLessThanOrEqual(MAX_MESSAGE_CHARS);
  });

  it("prefers the runner's log_tail and says when a job never started", () => {
    const job = baseJob(ID, {
      status: "cancelled",
      error: { kind: "cancelled", message: "cancelled before start", log_tail: ["from the runner"] },
    });
    const text = channelMessage(job, "cancelled", logLinesFor(job, ["from stdout.log"]));
    expect(text).toContain(`${ID} cancelled before it started`);
    expect(text).toContain("from the runner");
    expect(text).not.toContain("from stdout.log");
  });

  it("lists at most 8 best parameters", () => {
    const params = Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`p${i}`, i / 3]));
    const job = baseJob(ID, {
      status: "completed",
      progress: { trials_complete: 5, best_values: [1.5, 2.25], best_params: params },
    });
    const text = channelMessage(job, "completed", []);
    expect(text).toContain("5 trials, best [1.5, 2.25] at p0=0, p1=0.333333");
    expect(text).toContain("+4 more");
  });
});
