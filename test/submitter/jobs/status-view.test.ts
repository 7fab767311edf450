// buildStatusView over every state the files can prove, from plain facts (no disk): what each state
// shows, the stale-heartbeat rule (3 x the runner's heartbeat_s, 30 s when it does not say), problems
// with unusable files, and that every view is valid against the tools' own output schema.
import { describe, expect, test } from "vitest";
import type { Job, JobRead } from "../../../protocol/index.ts";
import { noResults } from "../../../submitter/jobs/results-check.ts";
import type { RunnerView } from "../../../submitter/jobs/runners.ts";
import type { StatusFacts } from "../../../submitter/jobs/status-view.ts";
import { buildStatusView, changeFingerprint, StatusViewSchema } from "../../../submitter/jobs/status-view.ts";

const NOW = new Date("2026-03-01T12:00:00Z");
const ID = "job-20260301-110000-wfe";
const ago = (seconds: number) =>
  new Date(NOW.getTime() - seconds * 1000).toISOString().replace(/\.000Z$/, "Z");

const SUBMITTED: Job = {
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
const RUNNER = { host: "nx-1", version: "0.1.0", heartbeat_s: 10 };
const PROGRESS = {
  source: "study.db" as const,
  trials_complete: 57,
  trials_planned: 200,
  best_value: 0.0123,
};

const ok = (patch: Partial<Job>): JobRead => ({ kind: "ok", job: { ...SUBMITTED, ...patch } });
const ABSENT: JobRead = { kind: "absent" };
const running = (heartbeatAt: string | undefined, runner: Job["runner"] = RUNNER): JobRead =>
  ok({
    status: "running",
    seq: 14,
    runner,
    started_at: ago(600),
    ...(heartbeatAt ? { heartbeat_at: heartbeatAt } : {}),
    progress: { ...PROGRESS, extra: "scripts may add anything" },
  });
const runnerView = (patch: Partial<RunnerView>): RunnerView => ({
  host: "nx-1",
  running: [],
  queued: [],
  silent: false,
  last_seen: ago(5),
  ...patch,
});
const RESULTS = {
  ...noResults("ignored"),
  manifest: true,
  files_total: 2,
  files_synced: 2,
  complete: true,
  summary: "2 of 2 result files synced and verified",
};

function facts(patch: Partial<StatusFacts>): StatusFacts {
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

const CASES: { name: string; facts: StatusFacts; expected: Record<string, unknown>; absent?: string[] }[] = [
  {
    name: "submitted, a runner seen recently",
    facts: facts({ runners: [runnerView({})] }),
    expected: {
      state: "submitted",
      seq: 0,
      project: "m1",
      submitted_at: SUBMITTED.created_at,
      runner_seen_recently: true,
      runners_seen: 1,
      last_runner_seen_at: ago(5),
    },
  },
  {
    name: "submitted, only a silent and a stopped runner",
    facts: facts({
      runners: [runnerView({ silent: true }), runnerView({ host: "nx-2", stopped_at: ago(60) })],
    }),
    expected: {
      state: "submitted",
      runner_seen_recently: false,
      runners_seen: 2,
      waiting_for: expect.stringContaining("none has published a heartbeat recently"),
    },
  },
  {
    name: "submitted, no runner at all",
    facts: facts({}),
    expected: { state: "submitted", runner_seen_recently: false, runners_seen: 0 },
    absent: ["last_runner_seen_at"],
  },
  {
    name: "queued, third in its runner's queue, held for a licence",
    facts: facts({
      inbox: ok({
        status: "queued",
        seq: 1,
        runner: RUNNER,
        queued_at: ago(30),
        waiting_for: "licence server 28000@lic1",
      }),
      runners: [runnerView({ queued: ["job-a", "job-b", ID] })],
    }),
    expected: {
      state: "queued",
      seq: 1,
      queued_at: ago(30),
      position: 3,
      runner_host: "nx-1",
      waiting_for: "licence server 28000@lic1",
    },
  },
  {
    name: "queued, not in any runner's list yet",
    facts: facts({ inbox: ok({ status: "queued", seq: 1 }) }),
    expected: { state: "queued", position: null },
    absent: ["runner_host", "waiting_for"],
  },
  {
    name: "running, heartbeat 20 s ago (heartbeat_s 10): fresh",
    facts: facts({ inbox: running(ago(20)) }),
    expected: {
      state: "running",
      seq: 14,
      heartbeat_at: ago(20),
      heartbeat_age_s: 20,
      stale: false,
      runner_host: "nx-1",
      progress: PROGRESS,
    },
  },
  {
    name: "running, heartbeat 31 s ago (heartbeat_s 10): stale",
    facts: facts({ inbox: running(ago(31)) }),
    expected: { state: "running", heartbeat_age_s: 31, stale: true },
  },
  {
    name: "running, heartbeat 80 s ago, no heartbeat_s: the 30 s default, fresh",
    facts: facts({ inbox: running(ago(80), { host: "nx-1", version: "0.1.0" }) }),
    expected: { state: "running", heartbeat_age_s: 80, stale: false },
  },
  {
    name: "running, heartbeat 91 s ago, no heartbeat_s: stale",
    facts: facts({ inbox: running(ago(91), { host: "nx-1", version: "0.1.0" }) }),
    expected: { state: "running", stale: true },
  },
  {
    name: "running, no heartbeat: started_at counts",
    facts: facts({ inbox: running(undefined) }),
    expected: { state: "running", heartbeat_at: ago(600), heartbeat_age_s: 600, stale: true },
  },
  {
    name: "completed with verified results",
    facts: facts({
      inbox: ok({ status: "completed", seq: 31, finished_at: ago(60), exit_code: 0, progress: PROGRESS }),
      results: RESULTS,
    }),
    expected: {
      state: "completed",
      seq: 31,
      finished_at: ago(60),
      exit_code: 0,
      results: RESULTS,
      progress: PROGRESS,
    },
  },
  {
    name: "completed, results not checked",
    facts: facts({ inbox: ok({ status: "completed", seq: 31 }) }),
    expected: { state: "completed", results: noResults("results not checked") },
  },
  {
    name: "failed with the runner's log tail",
    facts: facts({
      inbox: ok({
        status: "failed",
        finished_at: ago(60),
        exit_code: 1,
        error: { kind: "exit_code", message: "exit 1", log_tail: ["Traceback", "ValueError"] },
      }),
      logTail: ["not used"],
    }),
    expected: {
      state: "failed",
      exit_code: 1,
      error: { kind: "exit_code", message: "exit 1" },
      log_tail: ["Traceback", "ValueError"],
    },
  },
  {
    name: "failed without a tail: stdout.log's last lines, missing files listed",
    facts: facts({
      inbox: ok({
        status: "failed",
        error: { kind: "incomplete_transfer", message: "files missing", missing_files: ["1_setup/m1.prt"] },
      }),
      logTail: ["line 1", "line 2"],
    }),
    expected: {
      state: "failed",
      error: { kind: "incomplete_transfer", missing_files: ["1_setup/m1.prt"] },
      log_tail: ["line 1", "line 2"],
    },
    absent: ["finished_at", "results"],
  },
  {
    name: "cancelled without an error: named so, and a pending cancel request shown",
    facts: facts({
      inbox: ok({ status: "cancelled", finished_at: ago(5) }),
      cancel: { job_id: ID, requested_at: ago(30), requested_by: "atlas" },
    }),
    expected: {
      state: "cancelled",
      cancel_requested_at: ago(30),
      error: { kind: "cancelled", message: "the runner gave no reason" },
      log_tail: [],
    },
    absent: ["exit_code"],
  },
  {
    name: "archived: the archive's job.json speaks",
    facts: facts({
      outbox: ABSENT,
      inbox: ok({ status: "completed", seq: 31 }),
      archive: {
        dir: `/q/archive/${ID}-20260301T115900Z`,
        archived_at: "2026-03-01T11:59:00Z",
        read: ok({ status: "failed", finished_at: ago(120) }),
      },
    }),
    // The archived copy's status and finish time, not the runner's copy still in inbox/.
    expected: {
      state: "archived",
      archived_at: "2026-03-01T11:59:00Z",
      archive_dir: `/q/archive/${ID}-20260301T115900Z`,
      final_status: "failed",
      finished_at: ago(120),
    },
  },
  {
    name: "unknown, with suggestions",
    facts: facts({ outbox: ABSENT, suggestions: ["job-20260301-110000-wfe2"] }),
    expected: {
      state: "unknown",
      seq: 0,
      reason: `no outbox, inbox or archive entry for ${ID}`,
      suggestions: ["job-20260301-110000-wfe2"],
    },
    absent: ["project"],
  },
  {
    name: "an unusable outbox and inbox job.json: submitted as far as the files prove, both named",
    facts: facts({
      outbox: { kind: "invalid", problem: "bad JSON", cause: "content" },
      inbox: { kind: "invalid", problem: "EACCES", cause: "fs" },
    }),
    expected: {
      state: "submitted",
      problems: ["outbox job.json unusable: bad JSON", "inbox job.json unusable: EACCES"],
    },
  },
];

describe("buildStatusView", () => {
  test.each(CASES)("$name", ({ facts: input, expected, absent = [] }) => {
    const view = buildStatusView(input);
    expect(view).toMatchObject({ job_id: ID, ...expected });
    for (const key of absent) expect(view).not.toHaveProperty(key);
    expect(StatusViewSchema.safeParse(view).success).toBe(true);
  });

  test("a progress view keeps only the known fields", () => {
    const view = buildStatusView(facts({ inbox: running(ago(5)) }));
    expect(view.state === "running" && view.progress).toEqual(PROGRESS);
  });

  test.each([
    { name: "a heartbeat alone", change: (job: Job) => ({ ...job, heartbeat_at: ago(1) }), same: true },
    {
      name: "progress",
      change: (job: Job) => ({ ...job, progress: { ...PROGRESS, trials_complete: 58 } }),
      same: false,
    },
    { name: "the status", change: (job: Job) => ({ ...job, status: "completed" as const }), same: false },
  ])("the change fingerprint after $name stays the same: $same", ({ change, same }) => {
    const before = running(ago(5));
    if (before.kind !== "ok") throw new Error("fixture");
    const a = changeFingerprint(buildStatusView(facts({ inbox: before })));
    const b = changeFingerprint(buildStatusView(facts({ inbox: { kind: "ok", job: change(before.job) } })));
    expect(a === b).toBe(same);
  });
});
