import { describe, expect, it } from "vitest";
import type { ZodType } from "zod";
import {
  CancelRequestSchema,
  describeZodError,
  ERROR_KINDS,
  FileEntrySchema,
  IsoTimeSchema,
  JOB_STATUSES,
  JobErrorSchema,
  JobSchema,
  ProgressSchema,
  ResultsManifestSchema,
  RunnerHeartbeatSchema,
  SCHEMA_VERSION,
  SubmittedJobSchema,
  TERMINAL_STATUSES,
  TerminalStatusSchema,
} from "../../protocol/job-schema.ts";
import { seedJob } from "./fixtures.ts";

const SHA = "a".repeat(64);

/** The error text a schema gives for a value, or undefined when it accepts it. */
function refusal(schema: ZodType, value: unknown): string | undefined {
  const parsed = schema.safeParse(value);
  return parsed.success ? undefined : describeZodError(parsed.error);
}

describe("JobSchema", () => {
  it("accepts the SYS_19 seed example unchanged", () => {
    const seed = seedJob();
    const parsed = JobSchema.parse(seed);
    expect(parsed).toStrictEqual(seed);
    // No optional field appears out of nowhere, and the field order stays the seed's.
    expect(JSON.stringify(parsed)).toBe(JSON.stringify(seed));
  });

  it("accepts a full protocol v1 runner view", () => {
    const job = {
      ...seedJob(),
      status: "completed",
      schema_version: SCHEMA_VERSION,
      files: [{ path: "run_optimization.py", size: 12, sha256: SHA }],
      timeout_s: 3600,
      idempotency_key: "starspec-wfe-2026-02-10",
      seq: 7,
      queued_at: "2026-02-10T14:31:00.000Z",
      started_at: "2026-02-10T14:31:01.000Z",
      finished_at: "2026-02-10T15:00:00+01:00",
      heartbeat_at: "2026-02-10T14:59:30.000Z",
      runner: { host: "nx-ws-01", version: "0.1.0", heartbeat_s: 30 },
      exit_code: 0,
      progress: { source: "study.db", trials_planned: 100, trials_complete: 100, best_value: 1.5 },
      results: {
        files: [{ path: "stdout.log", size: 0, sha256: SHA }],
        published_at: "2026-02-10T15:00:00Z",
      },
    };
    expect(JobSchema.parse(job)).toStrictEqual(job);
  });

  it("keeps unknown fields, at the top level and in nested objects", () => {
    const job = {
      ...seedJob(),
      x_future: { a: 1 },
      notify: { on_complete: true, on_fail: false, via: "slack" },
    };
    const parsed = JobSchema.parse(job);
    expect(parsed.x_future).toEqual({ a: 1 });
    expect(parsed.notify.via).toBe("slack");
  });

  it.each(JOB_STATUSES)("accepts status %s", (status) => {
    expect(refusal(JobSchema, { ...seedJob(), status })).toBeUndefined();
  });

  it.each<[string, Record<string, unknown>, string]>([
    ["a missing job_id", { job_id: undefined }, "job_id"],
    ["an empty job_id", { job_id: "" }, "job_id"],
    ["a created_at that is not ISO-8601", { created_at: "yesterday" }, "created_at"],
    ["a missing created_by", { created_by: undefined }, "created_by"],
    ["an unknown status", { status: "done" }, "status"],
    ["args that are not strings", { args: ["--trials", 5] }, "args.1"],
    ["args as one shell string", { args: "--start" }, "args"],
    ["notify.on_fail as a string", { notify: { on_complete: true, on_fail: "yes" } }, "notify.on_fail"],
    ["a negative timeout", { timeout_s: -1 }, "timeout_s"],
    ["a fractional seq", { seq: 1.5 }, "seq"],
    [
      "a manifest entry with an upper-case hash",
      { files: [{ path: "a", size: 1, sha256: SHA.toUpperCase() }] },
      "files.0.sha256",
    ],
    [
      "a manifest entry with a negative size",
      { files: [{ path: "a", size: -1, sha256: SHA }] },
      "files.0.size",
    ],
    ["a runner without host", { runner: { version: "0.1.0" } }, "runner.host"],
    ["an error without message", { error: { kind: "exit_code" } }, "error.message"],
    ["results without published_at", { results: { files: [] } }, "results.published_at"],
  ])("refuses %s, naming the field", (_what, patch, field) => {
    const message = refusal(JobSchema, { ...seedJob(), ...patch });
    expect(message).toBeDefined();
    expect(message).toMatch(new RegExp(`(^|; )${field.replace(/\./g, "\\.")}: `));
  });

  it("names every bad field at once", () => {
    const message = refusal(JobSchema, { ...seedJob(), status: "done", created_at: "now", args: "x" });
    expect(message).toContain("status: ");
    expect(message).toContain("created_at: ");
    expect(message).toContain("args: ");
  });
});

describe("SubmittedJobSchema", () => {
  it("requires the v1 manifest fields a plain SYS_19 job lacks", () => {
    const message = refusal(SubmittedJobSchema, seedJob());
    expect(message).toContain("schema_version: ");
    expect(message).toContain("files: ");
  });

  it("accepts a seed job with schema_version and files", () => {
    const job = {
      ...seedJob(),
      schema_version: SCHEMA_VERSION,
      files: [{ path: "a.py", size: 0, sha256: SHA }],
    };
    expect(SubmittedJobSchema.parse(job)).toStrictEqual(job);
  });
});

describe("JobErrorSchema", () => {
  it.each(ERROR_KINDS)("accepts the documented kind %s", (kind) => {
    expect(refusal(JobErrorSchema, { kind, message: "m" })).toBeUndefined();
  });

  it("accepts kinds it does not know (readers accept other strings) and keeps extra fields", () => {
    const error = { kind: "gpu_on_fire", message: "m", missing_files: ["a"], log_tail: ["x"], hint: "h" };
    expect(JobErrorSchema.parse(error)).toStrictEqual(error);
  });

  it("refuses an empty kind", () => {
    expect(refusal(JobErrorSchema, { kind: "", message: "m" })).toContain("kind");
  });
});

describe("the other files of the protocol", () => {
  it("FileEntrySchema needs a path, a whole non-negative size and a lowercase sha256", () => {
    expect(refusal(FileEntrySchema, { path: "a", size: 0, sha256: SHA })).toBeUndefined();
    expect(refusal(FileEntrySchema, { path: "", size: 0, sha256: SHA })).toContain("path");
    expect(refusal(FileEntrySchema, { path: "a", size: 1.5, sha256: SHA })).toContain("size");
    expect(refusal(FileEntrySchema, { path: "a", size: 0, sha256: "abc" })).toContain(
      "sha256: sha256 must be 64 lowercase hex digits",
    );
  });

  it("ProgressSchema takes every documented field, all optional", () => {
    const progress = {
      source: "progress.json",
      trials_planned: null,
      trials_complete: 3,
      trials_pruned: 1,
      trials_failed: 0,
      trials_running: 1,
      best_value: null,
      best_values: [1, 2],
      best_params: { x: 1 },
      best_trial: 2,
      last_trial_at: "2026-02-10T14:30:22Z",
      message: "ok",
      updated_at: "2026-02-10T14:30:22Z",
    };
    expect(ProgressSchema.parse(progress)).toStrictEqual(progress);
    expect(ProgressSchema.parse({})).toStrictEqual({});
    expect(refusal(ProgressSchema, { source: "guess" })).toContain("source");
  });

  it("ResultsManifestSchema, RunnerHeartbeatSchema and CancelRequestSchema accept what section 8/9 describe", () => {
    const at = "2026-02-10T14:30:22Z";
    expect(refusal(ResultsManifestSchema, { files: [], published_at: at })).toBeUndefined();
    const heartbeat = {
      host: "nx-ws-01",
      version: "0.1.0",
      pid: 4242,
      slots: 1,
      running: ["job-20260210-143022-wfe"],
      queued: [],
      started_at: at,
      last_seen: at,
      interval_s: 15,
    };
    expect(RunnerHeartbeatSchema.parse(heartbeat)).toStrictEqual(heartbeat);
    expect(refusal(RunnerHeartbeatSchema, { ...heartbeat, slots: 0 })).toContain("slots");
    const cancel = { job_id: "job-20260210-143022-wfe", requested_at: at, requested_by: "optimizer" };
    expect(CancelRequestSchema.parse(cancel)).toStrictEqual(cancel);
    expect(refusal(CancelRequestSchema, { ...cancel, requested_by: "" })).toContain("requested_by");
  });

  it("lists exactly the documented statuses, the terminal ones last", () => {
    expect(JOB_STATUSES).toEqual(["submitted", "queued", "running", "completed", "failed", "cancelled"]);
    expect(TERMINAL_STATUSES).toEqual(["completed", "failed", "cancelled"]);
    expect(TerminalStatusSchema.options).toEqual([...TERMINAL_STATUSES]);
    expect(TerminalStatusSchema.safeParse("running").success).toBe(false);
    expect(SCHEMA_VERSION).toBe(2);
  });

  it("describeZodError names the root when the value is not an object", () => {
    expect(refusal(JobSchema, "job")).toMatch(/^\(root\): /);
  });
});

describe("IsoTimeSchema", () => {
  it.each([
    ["2026-02-10T14:30:22Z", true],
    ["2026-02-10T14:30:22.123Z", true],
    ["2026-02-10T14:30:22+01:00", true],
    ["2026-02-10 14:30:22", false],
    ["2026-02-10T14:30:22", false],
    ["yesterday", false],
  ])("%s: %s", (text, valid) => {
    expect(IsoTimeSchema.safeParse(text).success).toBe(valid);
  });
});
