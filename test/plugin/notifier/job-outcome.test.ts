import { describe, expect, it } from "vitest";
import { outcomeOf } from "../../../plugin/notifier/job-outcome.ts";
import type { Job, JobStatus } from "../../../protocol/index.ts";
import type { JobRecord, ResultsVerification } from "../../../submitter/catalog/job-catalog.ts";
import { noResults } from "../../../submitter/jobs/results-check.ts";
import { baseJob } from "./queue-fixture.ts";

const ID = "job-20260210-143022-starspec-m1-wfe-sweep";
const MANIFEST = {
  files: [{ path: "stdout.log", size: 3, sha256: "0".repeat(64) }],
  published_at: "2026-02-10T18:00:00Z",
};
const sync = noResults("test");
const VERIFIED: ResultsVerification = { state: "verified", sync };
const SYNCING: ResultsVerification = { state: "syncing", detail: "1 of 2 result files synced", sync };
const NONE: ResultsVerification = { state: "none", sync };

function job(status: JobStatus, withManifest = true): Job {
  return baseJob(ID, { status, ...(withManifest ? { results: MANIFEST } : {}) });
}
const ok = (j: Job): JobRecord["runner"] => ({ kind: "ok", job: j });

describe("outcomeOf", () => {
  it.each<{
    why: string;
    runner: JobRecord["runner"];
    results: ResultsVerification;
    kind: string;
    extra?: object;
  }>([
    { why: "no runner job.json", runner: { kind: "absent" }, results: NONE, kind: "absent" },
    {
      why: "a runner job.json that does not parse",
      runner: { kind: "invalid", problem: "job.json: unexpected end of JSON", cause: "content" },
      results: NONE,
      kind: "unreadable",
      extra: { reason: "job.json: unexpected end of JSON" },
    },
    {
      why: "queued",
      runner: ok(job("queued", false)),
      results: NONE,
      kind: "active",
      extra: { status: "queued" },
    },
    {
      why: "running",
      runner: ok(job("running", false)),
      results: NONE,
      kind: "active",
      extra: { status: "running" },
    },
    {
      why: "completed and verified",
      runner: ok(job("completed")),
      results: VERIFIED,
      kind: "ended",
      extra: { status: "completed", results: "verified" },
    },
    {
      why: "completed, results still syncing",
      runner: ok(job("completed")),
      results: SYNCING,
      kind: "syncing",
      extra: { detail: "1 of 2 result files synced" },
    },
    {
      why: "completed, only sizes checked: not proven",
      runner: ok(job("completed")),
      results: { state: "present", sync: noResults("sizes match") },
      kind: "syncing",
      extra: { detail: "sizes match" },
    },
    {
      why: "completed without a manifest",
      runner: ok(job("completed", false)),
      results: NONE,
      kind: "ended",
      extra: { status: "completed", results: "none" },
    },
    {
      why: "failed while results still sync: ended at once",
      runner: ok(job("failed")),
      results: SYNCING,
      kind: "ended",
      extra: { status: "failed", results: "unchecked" },
    },
    {
      why: "cancelled without a manifest",
      runner: ok(job("cancelled", false)),
      results: NONE,
      kind: "ended",
      extra: { status: "cancelled", results: "none" },
    },
  ])("$why: $kind", ({ runner, results, kind, extra }) => {
    const outcome = outcomeOf({ runner, results });
    expect(outcome).toMatchObject({ kind, ...(extra ?? {}) });
    if (runner.kind === "ok" && (outcome.kind === "ended" || outcome.kind === "syncing")) {
      expect(outcome.job).toBe(runner.job);
    }
  });
});
