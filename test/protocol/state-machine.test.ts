import { describe, expect, it } from "vitest";
import { isProtocolError } from "../../protocol/errors.ts";
import type { Job, JobStatus } from "../../protocol/job-schema.ts";
import { JOB_STATUSES, JobSchema } from "../../protocol/job-schema.ts";
import {
  assertTransition,
  asTerminalStatus,
  canTransition,
  isTerminal,
  TRANSITIONS,
  transition,
  update,
} from "../../protocol/state-machine.ts";
import { seedJob } from "./fixtures.ts";

/**
 * docs/PROTOCOL.md section 4, written out by hand (not derived from TRANSITIONS):
 *   submitted -> queued -> running -> completed | failed | cancelled
 *   submitted | queued -> failed | cancelled
 * Any other change is refused; terminal states are final.
 */
const DOCUMENTED = new Set([
  "submitted->queued",
  "queued->running",
  "running->completed",
  "running->failed",
  "running->cancelled",
  "submitted->failed",
  "submitted->cancelled",
  "queued->failed",
  "queued->cancelled",
]);

const PAIRS = JOB_STATUSES.flatMap((from) =>
  JOB_STATUSES.map((to): [JobStatus, JobStatus, boolean] => [from, to, DOCUMENTED.has(`${from}->${to}`)]),
);

const NOW = new Date("2026-02-10T15:00:00.000Z");

function jobIn(status: JobStatus): Job {
  return JobSchema.parse({ ...seedJob(), status, seq: 4, x_extra: { kept: true } });
}

describe("the transition table (36 pairs)", () => {
  it("has 36 pairs of which 9 are allowed", () => {
    expect(PAIRS).toHaveLength(36);
    expect(PAIRS.filter(([, , allowed]) => allowed)).toHaveLength(9);
  });

  it.each(PAIRS)("%s -> %s allowed: %s", (from, to, allowed) => {
    expect(canTransition(from, to)).toBe(allowed);
    expect(TRANSITIONS[from].includes(to)).toBe(allowed);
    if (allowed) {
      expect(() => assertTransition(from, to, "job-20260210-143022-wfe")).not.toThrow();
      const next = transition(jobIn(from), to, {}, NOW);
      expect(next.status).toBe(to);
      expect(next.seq).toBe(5);
    } else {
      expect(() => assertTransition(from, to)).toThrow(/cannot go from/);
      expect(() => transition(jobIn(from), to, {}, NOW)).toThrow(
        new RegExp(`job-20260210-143022-wfe: cannot go from ${from} to ${to}`),
      );
    }
  });
});

describe("transition", () => {
  it.each<[JobStatus, JobStatus, "queued_at" | "started_at" | "finished_at"]>([
    ["submitted", "queued", "queued_at"],
    ["queued", "running", "started_at"],
    ["running", "completed", "finished_at"],
    ["running", "failed", "finished_at"],
    ["running", "cancelled", "finished_at"],
    ["submitted", "failed", "finished_at"],
    ["submitted", "cancelled", "finished_at"],
    ["queued", "failed", "finished_at"],
    ["queued", "cancelled", "finished_at"],
  ])("%s -> %s sets %s", (from, to, field) => {
    const next = transition(jobIn(from), to, {}, NOW);
    expect(next[field]).toBe("2026-02-10T15:00:00.000Z");
    expect(JobSchema.safeParse(next).success).toBe(true);
  });

  it("walks a whole run, keeping earlier timestamps, unknown fields and the patch", () => {
    const submitted = JobSchema.parse({ ...seedJob(), x_extra: 1 });
    const queued = transition(submitted, "queued", {}, new Date("2026-02-10T14:31:00Z"));
    const running = transition(queued, "running", { runner: { host: "nx", version: "0.1.0" } }, NOW);
    const completed = transition(running, "completed", { exit_code: 0 }, new Date("2026-02-10T16:00:00Z"));
    expect(completed).toMatchObject({
      status: "completed",
      seq: 3,
      queued_at: "2026-02-10T14:31:00.000Z",
      started_at: "2026-02-10T15:00:00.000Z",
      finished_at: "2026-02-10T16:00:00.000Z",
      runner: { host: "nx", version: "0.1.0" },
      exit_code: 0,
      x_extra: 1,
    });
    // The input is never changed in place: a reader holding the old object still sees the old state.
    expect(submitted.status).toBe("submitted");
    expect(submitted.seq).toBeUndefined();
    expect(queued.status).toBe("queued");
  });

  it("the status, timestamp and seq come from the state machine, not from the patch", () => {
    const next = transition(
      jobIn("queued"),
      "running",
      { status: "completed", seq: 99, started_at: "2020-01-01T00:00:00Z" },
      NOW,
    );
    expect(next).toMatchObject({ status: "running", seq: 5, started_at: "2026-02-10T15:00:00.000Z" });
  });

  it("names both states and what is allowed when it refuses", () => {
    let caught: unknown;
    try {
      transition(jobIn("submitted"), "running");
    } catch (error) {
      caught = error;
    }
    expect(isProtocolError(caught, "invalid_transition")).toBe(true);
    expect((caught as Error).message).toBe(
      "job-20260210-143022-wfe: cannot go from submitted to running; from submitted a job may go to queued, failed, cancelled",
    );
    expect(() => assertTransition("completed", "running", "job-x")).toThrow(
      "job-x: cannot go from completed to running; from completed a job may go to nothing (it is final)",
    );
  });
});

describe("update", () => {
  it("bumps seq and applies the patch without changing status", () => {
    const running = jobIn("running");
    const next = update(running, {
      heartbeat_at: "2026-02-10T15:00:30.000Z",
      progress: { trials_complete: 3 },
    });
    expect(next).toMatchObject({ status: "running", seq: 5, heartbeat_at: "2026-02-10T15:00:30.000Z" });
    expect(next.x_extra).toEqual({ kept: true });
    expect(update(JobSchema.parse(seedJob()), {}).seq).toBe(1);
  });

  it("accepts the same status in the patch", () => {
    expect(update(jobIn("running"), { status: "running" }).status).toBe("running");
  });

  it.each<[JobStatus, JobStatus]>([
    ["running", "completed"],
    ["queued", "running"],
    ["completed", "failed"],
  ])("refuses a status change %s -> %s and points to transition()", (from, to) => {
    let caught: unknown;
    try {
      update(jobIn(from), { status: to });
    } catch (error) {
      caught = error;
    }
    expect(isProtocolError(caught, "invalid_transition")).toBe(true);
    expect((caught as Error).message).toContain("use transition() to change status");
  });
});

describe("isTerminal", () => {
  it.each<[JobStatus, boolean]>([
    ["submitted", false],
    ["queued", false],
    ["running", false],
    ["completed", true],
    ["failed", true],
    ["cancelled", true],
  ])("%s: %s", (status, terminal) => {
    expect(isTerminal(status)).toBe(terminal);
    // A terminal state is final: no way out of it.
    if (terminal) expect(TRANSITIONS[status]).toEqual([]);
  });
});

describe("asTerminalStatus", () => {
  it.each<[string, string | undefined]>([
    ["completed", "completed"],
    ["failed", "failed"],
    ["cancelled", "cancelled"],
    ["running", undefined],
    ["submitted", undefined],
    ["COMPLETED", undefined],
    ["", undefined],
  ])("%j -> %j", (status, want) => {
    expect(asTerminalStatus(status)).toBe(want);
    // The two checks agree on every status.
    if (JOB_STATUSES.includes(status as JobStatus))
      expect(isTerminal(status as JobStatus)).toBe(want !== undefined);
  });
});
