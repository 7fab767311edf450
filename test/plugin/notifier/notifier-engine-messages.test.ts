// The notifier engine's channel message for a finished job: posted once its results verify, skipped when
// the job's notify flag is off, refused loudly for an unmapped channel, and retried when a send fails.
import { describe, expect } from "vitest";
import { HANDOFF_MARKER } from "../../../plugin/notifier/handoff-text.ts";
import { WAKE_REASON } from "../../../plugin/notifier/notifier-engine.ts";
import { engineTest as it, makeEngine, readLedger, TARGET, waitFor } from "./engine-harness.ts";
import { deliverWithheld, publishJob } from "./queue-fixture.ts";

const SWEEP = "job-20260210-143022-starspec-m1-wfe-sweep";

describe("notifier engine", () => {
  it("waits for a completed job's results to verify, then posts one message and hands it off once", async ({
    queueDir,
    track,
  }) => {
    const h = track(makeEngine(queueDir));
    await h.engine.start();
    const spec = {
      jobId: SWEEP,
      status: "completed" as const,
      results: { "3_results/study.db": "sqlite bytes" },
      withheld: ["3_results/study.db"],
    };
    await publishJob(queueDir, spec);
    await h.engine.rescan();
    expect(h.calls.sends).toEqual([]);
    expect(h.calls.events).toEqual([]);
    expect((await readLedger(queueDir)).jobs[SWEEP]).toBeUndefined();

    await deliverWithheld(queueDir, spec);
    await waitFor("the hand-off", () => h.calls.events.length === 1 && h.calls.sends.length === 1);
    const [send] = h.calls.sends;
    expect(send?.target).toEqual(TARGET);
    expect(send?.text).toContain(SWEEP);
    expect(send?.text).toContain("completed after 2h 14m");
    expect(send?.text).toContain("120 of 150 trials");
    expect(send?.text).toContain("best 0.0123457 (trial 87) at r_inner=1.25, thickness=3.4");
    expect(send?.text.length).toBeLessThanOrEqual(1500);
    const [event] = h.calls.events;
    expect(event?.text.startsWith(HANDOFF_MARKER)).toBe(true);
    expect(event?.text).toContain(`- ${SWEEP}: completed`);
    expect(event?.text).toContain("fetch_results");
    expect(event?.options).toMatchObject({ agentId: "optimizer", sessionKey: "agent:optimizer:main" });
    expect(h.calls.wakes).toEqual([
      {
        source: "hook",
        intent: "immediate",
        reason: WAKE_REASON,
        agentId: "optimizer",
        sessionKey: "agent:optimizer:main",
      },
    ]);
    await waitFor("the ledger", async () => {
      const entry = (await readLedger(queueDir)).jobs[SWEEP];
      return entry?.notified.state === "sent" && entry.handoff.sent_at.length === 1;
    });
    const entry = (await readLedger(queueDir)).jobs[SWEEP];
    expect(entry?.handoff).toMatchObject({ state: "pending", sent_at: [expect.any(String)] });
    expect(entry?.notified).toMatchObject({ state: "sent", target: "telegram:12345", attempts: 1 });

    await h.engine.rescan();
    await h.engine.idle();
    expect(h.calls.sends).toHaveLength(1);
    expect(h.calls.events).toHaveLength(1);
  });

  it("hands off without a channel message when the job's notify flag is off", async ({ queueDir, track }) => {
    const h = track(makeEngine(queueDir));
    await h.engine.start();
    await publishJob(queueDir, {
      jobId: SWEEP,
      status: "failed",
      notify: { on_complete: true, on_fail: false },
      error: { kind: "exit_code", message: "script exited with 1" },
    });
    await waitFor("the hand-off", () => h.calls.events.length === 1);
    expect(h.calls.sends).toEqual([]);
    expect(h.calls.events[0]?.text).toContain(
      "failed after 2h 14m, exit_code (exit 1): script exited with 1",
    );
    expect(h.calls.events[0]?.text).toContain("notify flag is off");
    expect((await readLedger(queueDir)).jobs[SWEEP]?.notified).toMatchObject({
      state: "skipped",
      reason: "notify_off",
    });
  });

  it("reports an unmapped channel in the log, the ledger and the hand-off, and sends nothing", async ({
    queueDir,
    track,
  }) => {
    const h = track(makeEngine(queueDir));
    await h.engine.start();
    await publishJob(queueDir, { jobId: SWEEP, status: "completed", channel: "#thermal-team" });
    await waitFor("the hand-off", () => h.calls.events.length === 1);
    expect(h.calls.sends).toEqual([]);
    expect((await readLedger(queueDir)).jobs[SWEEP]?.notified).toMatchObject({
      state: "unmapped",
      channel: "#thermal-team",
    });
    const error = h.calls.logs.find((log) => log.level === "error")?.message ?? "";
    expect(error).toContain('"#thermal-team"');
    expect(error).toContain('notifier.channels["#thermal-team"]');
    expect(h.calls.events[0]?.text).toContain("#thermal-team has NO mapping");
  });

  it("retries a failing send, then records it failed and says so loudly", async ({ queueDir, track }) => {
    const h = track(makeEngine(queueDir));
    h.failSends.count = 99;
    await h.engine.start();
    await publishJob(queueDir, { jobId: SWEEP, status: "completed" });
    await waitFor(
      "the failure and the hand-off",
      async () =>
        (await readLedger(queueDir)).jobs[SWEEP]?.notified.state === "failed" && h.calls.events.length === 1,
    );
    expect(h.calls.sends).toHaveLength(3);
    expect((await readLedger(queueDir)).jobs[SWEEP]?.notified).toMatchObject({
      attempts: 3,
      last_error: "telegram answered 502 Bad Gateway",
    });
    expect(h.calls.logs.filter((log) => log.level === "warn")).toHaveLength(2);
    expect(h.calls.logs.find((log) => log.level === "error")?.message).toContain("could NOT post");
    expect(h.calls.events).toHaveLength(1);
  });

  it("succeeds on a later attempt after a transient failure", async ({ queueDir, track }) => {
    const h = track(makeEngine(queueDir));
    h.failSends.count = 1;
    await h.engine.start();
    await publishJob(queueDir, { jobId: SWEEP, status: "completed" });
    await waitFor(
      "the send",
      async () => (await readLedger(queueDir)).jobs[SWEEP]?.notified.state === "sent",
    );
    expect((await readLedger(queueDir)).jobs[SWEEP]?.notified).toMatchObject({ attempts: 2 });
  });
});
