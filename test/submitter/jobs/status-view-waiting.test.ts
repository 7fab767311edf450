// buildStatusView before the runner reports a run: submitted (with or without a runner seen recently),
// queued (its place in the runner's queue), and unusable job.json copies named as problems.
import { describe, expect, test } from "vitest";
import type { StatusCase } from "./helpers/status-facts.ts";
import {
  ago,
  expectStatusView,
  facts,
  ID,
  ok,
  RUNNER,
  runnerView,
  SUBMITTED,
} from "./helpers/status-facts.ts";

const CASES: StatusCase[] = [
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
  test.each(CASES)("$name", (row) => expectStatusView(row));
});
