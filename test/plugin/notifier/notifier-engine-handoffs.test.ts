// The notifier engine's hand-offs to the agent: batched with one wake, wakes spaced by the wake limits,
// re-sent after a restart or after resendAfter, and acknowledged by a fetch receipt.
import { describe, expect } from "vitest";
import { DEFAULT_WAKE_LIMITS } from "../../../plugin/notifier/wake-limits.ts";
import { engineTest as it, ManualClock, makeEngine, readLedger, waitFor } from "./engine-harness.ts";
import { publishJob, writeReceipt } from "./queue-fixture.ts";

const SWEEP = "job-20260210-143022-starspec-m1-wfe-sweep";
const MESH = "job-20260210-150000-starspec-mesh-study";

describe("notifier engine", () => {
  it("batches jobs that end together into one event and one wake", async ({ queueDir, track }) => {
    const h = track(makeEngine(queueDir, { batchWindowMs: 1_000 }));
    await h.engine.start();
    await Promise.all([
      publishJob(queueDir, { jobId: SWEEP, status: "completed" }),
      publishJob(queueDir, {
        jobId: MESH,
        status: "cancelled",
        error: { kind: "cancelled", message: "wrong mesh" },
      }),
    ]);
    await waitFor("both messages", () => h.calls.sends.length === 2);
    await waitFor("the hand-off", () => h.calls.events.length === 1);
    expect(h.calls.wakes).toHaveLength(1);
    expect(h.calls.events[0]?.text).toContain("2 finished jobs are waiting");
    expect(h.calls.events[0]?.text).toContain(SWEEP);
    expect(h.calls.events[0]?.text).toContain(MESH);
  });

  it("keeps wakes at least 30 s apart and at most 5 a minute", async ({ queueDir, track }) => {
    const clock = new ManualClock(Date.now());
    const h = track(
      makeEngine(
        queueDir,
        { wakeLimits: DEFAULT_WAKE_LIMITS, batchWindowMs: 2_000, resendAfterMs: 3600_000 },
        clock,
      ),
    );
    await h.engine.start();
    await h.engine.idle();
    const ids = [1, 2, 3].map((n) => `job-20260210-16000${n}-starspec-batch-study`);
    await publishJob(queueDir, { jobId: ids[0] ?? "", status: "completed" });
    await h.engine.rescan();
    clock.advance(2_000);
    await h.engine.idle();
    expect(h.calls.wakes).toHaveLength(1);
    const first = clock.now();

    await publishJob(queueDir, { jobId: ids[1] ?? "", status: "completed" });
    await h.engine.rescan();
    clock.advance(20_000);
    await h.engine.idle();
    expect(h.calls.wakes).toHaveLength(1);
    clock.advance(10_000);
    await h.engine.idle();
    expect(h.calls.wakes).toHaveLength(2);
    expect(clock.now() - first).toBeGreaterThanOrEqual(30_000);
    expect(h.calls.events[1]?.text).toContain(ids[1]);
  });

  it("after a restart re-sends a pending hand-off but not the channel message", async ({
    queueDir,
    track,
  }) => {
    const first = makeEngine(queueDir);
    await first.engine.start();
    await publishJob(queueDir, { jobId: SWEEP, status: "completed" });
    await waitFor(
      "the first hand-off",
      async () =>
        (await readLedger(queueDir)).jobs[SWEEP]?.notified.state === "sent" &&
        first.calls.events.length === 1,
    );
    await first.engine.stop();

    const second = track(makeEngine(queueDir));
    await second.engine.start();
    await waitFor("the re-sent hand-off", () => second.calls.events.length === 1);
    await waitFor(
      "the ledger",
      async () => (await readLedger(queueDir)).jobs[SWEEP]?.handoff.sent_at.length === 2,
    );
    expect(second.calls.sends).toEqual([]);
    expect(second.calls.events[0]?.text).toContain("reminder");
    const entry = (await readLedger(queueDir)).jobs[SWEEP];
    expect(entry?.handoff).toMatchObject({ state: "pending" });
    expect(entry?.handoff.sent_at).toHaveLength(2);
  });

  it("re-sends an unacknowledged hand-off after resendAfter, and never once the results were fetched", async ({
    queueDir,
    track,
  }) => {
    const clock = new ManualClock(Date.now());
    const h = track(makeEngine(queueDir, { resendAfterMs: 600_000, rescanMs: 60_000 }, clock));
    await h.engine.start();
    await publishJob(queueDir, { jobId: SWEEP, status: "completed" });
    await h.engine.rescan();
    clock.advance(1_000);
    await h.engine.idle();
    expect(h.calls.events).toHaveLength(1);

    for (let minute = 0; minute < 10; minute++) {
      clock.advance(60_000);
      await h.engine.idle();
    }
    clock.advance(1_000);
    await h.engine.idle();
    expect(h.calls.events).toHaveLength(2);

    await writeReceipt(queueDir, SWEEP, "completed");
    await h.engine.rescan();
    expect((await readLedger(queueDir)).jobs[SWEEP]?.handoff).toMatchObject({
      state: "acknowledged",
      by: "receipt",
    });
    for (let minute = 0; minute < 30; minute++) {
      clock.advance(60_000);
      await h.engine.idle();
    }
    expect(h.calls.events).toHaveLength(2);
    expect(h.calls.sends).toHaveLength(1);
  });

  it("notices a receipt through the watcher", async ({ queueDir, track }) => {
    const h = track(makeEngine(queueDir));
    await h.engine.start();
    await publishJob(queueDir, { jobId: SWEEP, status: "completed" });
    await waitFor("the hand-off", () => h.calls.events.length === 1);
    await writeReceipt(queueDir, SWEEP, "completed");
    await waitFor(
      "the acknowledgement",
      async () => (await readLedger(queueDir)).jobs[SWEEP]?.handoff.state === "acknowledged",
    );
  });
});
