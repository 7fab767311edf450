// What the runner takes back from an inbox view after a restart: how far the job got, never what runs.
import { describe, expect, test } from "vitest";
import type { Job } from "../../protocol/index.ts";
import { withProgressOf } from "../../runner/own-record.ts";

const OWN: Job = {
  job_id: "job-20261201-120000-own",
  created_at: "2026-12-01T12:00:00Z",
  created_by: "study-builder",
  project: "p",
  channel: "#c",
  type: "optimization",
  script: "run.py",
  args: ["--trials", "10"],
  status: "queued",
  notify: { on_complete: true, on_fail: true },
  timeout_s: 60,
  seq: 1,
  queued_at: "2026-12-01T12:00:01Z",
};

const FORGED = {
  script: "../../evil.py",
  args: ["--evil"],
  type: "nx",
  timeout_s: 100_000,
  files: [],
  signature: { alg: "ed25519", key_id: "ed25519:0000000000000000", value: "AAAA" },
  notify: { on_complete: false, on_fail: false },
  created_by: "intruder",
};

describe("withProgressOf", () => {
  test("keeps the runner's run fields and takes the view's status, seq, timestamps and progress", () => {
    const view = {
      ...OWN,
      ...FORGED,
      status: "running",
      seq: 7,
      started_at: "2026-12-01T12:00:05Z",
      heartbeat_at: "2026-12-01T12:00:09Z",
      progress: { trials_complete: 3 },
    } as Job;
    expect(withProgressOf(OWN, view)).toEqual({
      ...OWN,
      status: "running",
      seq: 7,
      started_at: "2026-12-01T12:00:05Z",
      heartbeat_at: "2026-12-01T12:00:09Z",
      progress: { trials_complete: 3 },
    });
  });

  test.for([
    {
      name: "another job's view",
      view: { ...OWN, job_id: "job-20261201-120000-other", status: "running", seq: 5 },
    },
    { name: "a view back at submitted", view: { ...OWN, status: "submitted", seq: 5 } },
  ])("takes only the seq of $name", ({ view }) => {
    expect(withProgressOf(OWN, view as Job)).toEqual({ ...OWN, seq: 5 });
  });

  test("never goes back below the seq watchers saw, and ignores a seq no runner could reach", () => {
    expect(withProgressOf(OWN, undefined, 12).seq).toBe(12);
    expect(withProgressOf(OWN, { ...OWN, seq: Number.MAX_SAFE_INTEGER }).seq).toBe(1);
  });
});
