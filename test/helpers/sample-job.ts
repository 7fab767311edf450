// The StarSpec M1 WFE job a study-builder submits: the one sample job.json that every side's tests
// build on, and what the submitter's own test expects it to write.
import type { Job } from "../../protocol/index.ts";
import { SCHEMA_VERSION } from "../../protocol/index.ts";

/** What such a job says about itself apart from its id, creation time and files. */
export function sampleJobFields() {
  return {
    created_by: "study-builder",
    project: "starspec-m1-wfe",
    channel: "#starspec-m1-wfe",
    type: "optimization",
    script: "run_optimization.py",
    args: [] as string[],
    status: "submitted",
    notify: { on_complete: true, on_fail: true },
    schema_version: SCHEMA_VERSION,
  } satisfies Partial<Job>;
}

/** A valid submitted job.json for `jobId`, `overrides` spread over it. */
export function sampleJob(jobId: string, overrides: Partial<Job> = {}): Job {
  return { job_id: jobId, created_at: "2026-02-10T14:30:22Z", ...sampleJobFields(), files: [], ...overrides };
}
