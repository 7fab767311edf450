// Plain facts for buildStatusView (no disk): one job at a fixed time, the ways its job.json copies can read,
// and the runner and result views the status tests combine.
import { expect } from "vitest";
import type { Job, JobRead } from "../../../../protocol/index.ts";
import { noResults } from "../../../../submitter/jobs/results-check.ts";
import type { RunnerView } from "../../../../submitter/jobs/runners.ts";
import type { StatusFacts } from "../../../../submitter/jobs/status-view.ts";
import { buildStatusView, StatusViewSchema } from "../../../../submitter/jobs/status-view.ts";

export const NOW = new Date("2026-03-01T12:00:00Z");
export const ID = "job-20260301-110000-wfe";
export const ago = (seconds: number) =>
  new Date(NOW.getTime() - seconds * 1000).toISOString().replace(/\.000Z$/, "Z");

export const SUBMITTED: Job = {
  job_id: ID,
  created_at: "2026-03-01T11:00:00Z",
  created_by: "atlas",
  project: "m1",
  channel: "#m1",
  type: "optimization",
  script: "run_optimization.py",
  args: [],
  status: "submitted",
  notify: { on_complete: true, on_fail: true },
};
export const RUNNER = { host: "nx-1", version: "0.1.0", heartbeat_s: 10 };
export const PROGRESS = {
  source: "study.db" as const,
  trials_complete: 57,
  trials_planned: 200,
  best_value: 0.0123,
};

export const ok = (patch: Partial<Job>): JobRead => ({ kind: "ok", job: { ...SUBMITTED, ...patch } });
export const ABSENT: JobRead = { kind: "absent" };
export const running = (heartbeatAt: string | undefined, runner: Job["runner"] = RUNNER): JobRead =>
  ok({
    status: "running",
    seq: 14,
    runner,
    started_at: ago(600),
    ...(heartbeatAt ? { heartbeat_at: heartbeatAt } : {}),
    progress: { ...PROGRESS, extra: "scripts may add anything" },
  });
export const runnerView = (patch: Partial<RunnerView>): RunnerView => ({
  host: "nx-1",
  running: [],
  queued: [],
  silent: false,
  last_seen: ago(5),
  ...patch,
});
export const RESULTS = {
  ...noResults("ignored"),
  manifest: true,
  files_total: 2,
  files_synced: 2,
  complete: true,
  summary: "2 of 2 result files synced and verified",
};

export function facts(patch: Partial<StatusFacts>): StatusFacts {
  return {
    jobId: ID,
    now: NOW,
    outbox: ok({}),
    inbox: ABSENT,
    archive: undefined,
    runners: [],
    cancel: undefined,
    results: undefined,
    logTail: undefined,
    suggestions: [],
    ...patch,
  };
}

/** One row of a status table: the facts, what the view must show, and the keys it must leave out. */
export interface StatusCase {
  name: string;
  facts: StatusFacts;
  expected: Record<string, unknown>;
  absent?: string[];
}

/** The view of a row's facts shows what it expects, leaves out what it must not show, and fits the schema. */
export function expectStatusView({ facts: input, expected, absent = [] }: StatusCase): void {
  const view = buildStatusView(input);
  expect(view).toMatchObject({ job_id: ID, ...expected });
  for (const key of absent) expect(view).not.toHaveProperty(key);
  expect(StatusViewSchema.safeParse(view).success).toBe(true);
}
