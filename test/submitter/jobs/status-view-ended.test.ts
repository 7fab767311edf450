// buildStatusView after the run and beyond: completed (results checked or not), failed (whose log tail),
// cancelled, archived (the archive's copy speaks) and unknown (with suggestions).
import { describe, test } from "vitest";
import { noResults } from "../../../submitter/jobs/results-check.ts";
import type { StatusCase } from "./helpers/status-facts.ts";
import { ABSENT, ago, expectStatusView, facts, ID, ok, PROGRESS, RESULTS } from "./helpers/status-facts.ts";

const CASES: StatusCase[] = [
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
];

describe("buildStatusView", () => {
  test.each(CASES)("$name", (row) => expectStatusView(row));
});
