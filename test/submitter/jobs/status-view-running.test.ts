// buildStatusView of a running job: the stale-heartbeat rule (3 x the runner's heartbeat_s, 30 s when it
// does not say), the progress fields a view keeps, and which changes move the change fingerprint.
import { describe, expect, test } from "vitest";
import type { Job } from "../../../protocol/index.ts";
import { buildStatusView, changeFingerprint } from "../../../submitter/jobs/status-view.ts";
import type { StatusCase } from "./helpers/status-facts.ts";
import { ago, expectStatusView, facts, PROGRESS, running } from "./helpers/status-facts.ts";

const CASES: StatusCase[] = [
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
];

describe("buildStatusView", () => {
  test.each(CASES)("$name", (row) => expectStatusView(row));

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
