import { mkdir, rm, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { HANDOFF_MARKER } from "../../../plugin/notifier/handoff-text.ts";
import type { NotifierEngine } from "../../../plugin/notifier/notifier-engine.ts";
import { WAKE_REASON } from "../../../plugin/notifier/notifier-engine.ts";
import { DEFAULT_WAKE_LIMITS } from "../../../plugin/notifier/wake-limits.ts";
import { queuePaths } from "../../../protocol/index.ts";
import { ManualClock, makeEngine, readLedger, TARGET, tempQueue, waitFor } from "./engine-harness.ts";
import { deliverWithheld, publishJob, writeReceipt } from "./queue-fixture.ts";

const SWEEP = "job-20260210-143022-starspec-m1-wfe-sweep";
const MESH = "job-20260210-150000-starspec-mesh-study";

describe("notifier engine", () => {
  let queueDir: string;
  let cleanup: () => Promise<void>;
  const engines: NotifierEngine[] = [];
  const track = <T extends { engine: NotifierEngine }>(h: T): T => {
    engines.push(h.engine);
    return h;
  };

  beforeEach(async () => {
    ({ queueDir, cleanup } = await tempQueue());
  });
  afterEach(async () => {
    for (const engine of engines.splice(0)) await engine.stop();
    await cleanup();
  });

  it("waits for a completed job's results to verify, then posts one message and hands it off once", async () => {
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

  it("hands off without a channel message when the job's notify flag is off", async () => {
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

  it("reports an unmapped channel in the log, the ledger and the hand-off, and sends nothing", async () => {
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

  it("retries a failing send, then records it failed and says so loudly", async () => {
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

  it("succeeds on a later attempt after a transient failure", async () => {
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

  it("batches jobs that end together into one event and one wake", async () => {
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

  it("keeps wakes at least 30 s apart and at most 5 a minute", async () => {
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

  it("after a restart re-sends a pending hand-off but not the channel message", async () => {
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

  it("re-sends an unacknowledged hand-off after resendAfter, and never once the results were fetched", async () => {
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

  it("notices a receipt through the watcher", async () => {
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

  it("on its very first start records history as done, hands off unfetched jobs, and skips stale messages", async () => {
    const { archive } = queuePaths(queueDir);
    const old = new Date(Date.now() - 3 * 3600_000);
    const fetched = "job-20260209-100000-starspec-fetched-study";
    const archived = "job-20260209-110000-starspec-archived-study";
    const stale = "job-20260209-120000-starspec-stale-study";
    const fresh = "job-20260210-120000-starspec-fresh-study";
    const running = "job-20260210-130000-starspec-running-study";
    await publishJob(queueDir, { jobId: fetched, status: "completed", finishedAt: old });
    await writeReceipt(queueDir, fetched, "completed");
    await publishJob(queueDir, { jobId: archived, status: "completed", finishedAt: old });
    await mkdir(join(archive, `${archived}-20260209T130000Z`));
    await publishJob(queueDir, {
      jobId: stale,
      status: "failed",
      finishedAt: old,
      error: { kind: "timeout", message: "ran too long" },
    });
    await publishJob(queueDir, {
      jobId: fresh,
      status: "completed",
      finishedAt: new Date(Date.now() - 5 * 60_000),
    });
    await publishJob(queueDir, { jobId: running, status: "running" });

    const h = track(makeEngine(queueDir));
    await h.engine.start();
    await waitFor("the hand-off", () => h.calls.events.length === 1 && h.calls.sends.length === 1);
    const ledger = await readLedger(queueDir);
    expect(ledger.jobs[fetched]).toMatchObject({
      notified: { state: "skipped", reason: "preexisting" },
      handoff: { state: "acknowledged", by: "receipt" },
    });
    expect(ledger.jobs[archived]).toMatchObject({
      notified: { state: "skipped", reason: "preexisting" },
      handoff: { state: "acknowledged", by: "archive" },
    });
    expect(ledger.jobs[stale]).toMatchObject({
      notified: { state: "skipped", reason: "stale" },
      handoff: { state: "pending" },
    });
    expect(ledger.jobs[running]).toBeUndefined();
    expect(h.calls.sends[0]?.text).toContain(fresh);
    const text = h.calls.events[0]?.text ?? "";
    expect(text).toContain(stale);
    expect(text).toContain(fresh);
    expect(text).not.toContain(fetched);
    expect(text).not.toContain(archived);
  });

  describe("shallow watches (inbox/ at depth 0, a job's folder only while its outcome is open)", () => {
    it("watches a job folder that appears before its job.json and hands the job off when it lands", async () => {
      const h = track(makeEngine(queueDir));
      await h.engine.start();
      expect(h.engine.watchedJobCount()).toBe(0);
      await mkdir(join(queuePaths(queueDir).inbox, SWEEP));
      await waitFor("the new folder to be watched", () => h.engine.watchedJobCount() === 1);
      await publishJob(queueDir, { jobId: SWEEP, status: "running" });
      await publishJob(queueDir, {
        jobId: SWEEP,
        status: "failed",
        error: { kind: "timeout", message: "too long" },
      });
      await waitFor("the hand-off", () => h.calls.events.length === 1 && h.calls.sends.length === 1);
      expect(h.calls.events[0]?.text).toContain(`- ${SWEEP}: failed`);
    });

    it("notifies a completed job only once result files arriving later in new 3_results folders verify", async () => {
      const h = track(makeEngine(queueDir));
      await h.engine.start();
      const spec = {
        jobId: SWEEP,
        status: "completed" as const,
        results: { "3_results/study.db": "sqlite bytes", "3_results/plots/history.png": "png bytes" },
        withheld: ["3_results/study.db", "3_results/plots/history.png"],
      };
      await publishJob(queueDir, spec);
      // Syncthing has not even created the results folder yet.
      await rm(join(queuePaths(queueDir).inbox, SWEEP, "3_results"), { recursive: true });
      await h.engine.rescan();
      expect(h.engine.watchedJobCount()).toBe(1);
      expect((await readLedger(queueDir)).jobs[SWEEP]).toBeUndefined();

      await deliverWithheld(queueDir, spec, ["3_results/study.db"]);
      await h.engine.rescan();
      expect(h.calls.sends).toEqual([]);
      expect(h.calls.events).toEqual([]);
      expect((await readLedger(queueDir)).jobs[SWEEP]).toBeUndefined();

      // No rescan from here on (the harness rescans once a minute): only a watch on 3_results/ sees plots/ appear.
      await deliverWithheld(queueDir, spec, ["3_results/plots/history.png"]);
      await waitFor("the hand-off", () => h.calls.events.length === 1 && h.calls.sends.length === 1);
      expect(h.calls.sends[0]?.text).toContain("completed after 2h 14m");
      await waitFor("the decided job to be unwatched", () => h.engine.watchedJobCount() === 0);
    });

    it("stops watching a job once it is decided, and never watches a decided one again", async () => {
      const h = track(makeEngine(queueDir));
      await h.engine.start();
      await publishJob(queueDir, { jobId: SWEEP, status: "running" });
      await publishJob(queueDir, { jobId: MESH, status: "running" });
      await waitFor("both running jobs to be watched", () => h.engine.watchedJobCount() === 2);
      await publishJob(queueDir, { jobId: SWEEP, status: "completed" });
      await waitFor("the hand-off", () => h.calls.events.length === 1);
      await waitFor("the decided job to be unwatched", () => h.engine.watchedJobCount() === 1);
      await h.engine.rescan();
      expect(h.engine.watchedJobCount()).toBe(1);
      expect((await readLedger(queueDir)).jobs[MESH]).toBeUndefined();
    });

    it("after a restart watches only the jobs still open and picks up those that changed meanwhile", async () => {
      const ended = "job-20260210-160000-starspec-ended-study";
      const later = "job-20260210-170000-starspec-later-study";
      const first = makeEngine(queueDir);
      await first.engine.start();
      await publishJob(queueDir, { jobId: SWEEP, status: "completed" });
      await publishJob(queueDir, { jobId: ended, status: "running" });
      await waitFor(
        "the first hand-off",
        () => first.calls.events.length === 1 && first.calls.sends.length === 1,
      );
      await waitFor("the running job to be watched", () => first.engine.watchedJobCount() === 1);
      await first.engine.stop();
      expect(first.engine.watchedJobCount()).toBe(0);

      // While no notifier runs: one job ends, another starts.
      await publishJob(queueDir, {
        jobId: ended,
        status: "cancelled",
        error: { kind: "cancelled", message: "stop" },
      });
      await publishJob(queueDir, { jobId: later, status: "running" });

      const second = track(makeEngine(queueDir));
      await second.engine.start();
      await waitFor("the ended job's message", () => second.calls.sends.some((s) => s.text.includes(ended)));
      expect(second.engine.watchedJobCount()).toBe(1);
      await publishJob(queueDir, { jobId: later, status: "completed" });
      await waitFor("the later job's message", () => second.calls.sends.some((s) => s.text.includes(later)));
      await waitFor("nothing left to watch", () => second.engine.watchedJobCount() === 0);
      expect(second.calls.sends.filter((s) => s.text.includes(SWEEP))).toEqual([]);
    });
  });

  it("lets only one engine act on a queue; the passive one takes over when the first stops", async () => {
    const a = track(makeEngine(queueDir, { lockRefreshMs: 100 }));
    const b = track(makeEngine(queueDir, { lockRefreshMs: 100 }));
    await a.engine.start();
    await b.engine.start();
    expect(a.engine.active).toBe(true);
    expect(b.engine.active).toBe(false);
    expect(b.calls.logs[0]?.message).toContain("stays passive");
    await publishJob(queueDir, { jobId: SWEEP, status: "completed" });
    await waitFor("the hand-off", () => a.calls.events.length === 1 && a.calls.sends.length === 1);
    await a.engine.stop();
    await waitFor("the take-over", () => b.engine.active);
    await waitFor("the re-sent hand-off", () => b.calls.events.length === 1);
    expect(b.calls.sends).toEqual([]);
  });

  it.each([
    { why: "not refreshed for an hour", pid: process.pid, age: 3600_000 },
    { why: "its process is gone", pid: 2 ** 22 + 17, age: 0 },
  ])("takes over a lock that is $why", async ({ pid, age }) => {
    const dir = join(queuePaths(queueDir).stateDir, "notifier");
    await mkdir(dir, { recursive: true });
    const at = new Date(Date.now() - age).toISOString();
    await writeFile(
      join(dir, "lock.json"),
      JSON.stringify({ owner: "someone-else", pid, hostname: hostname(), started_at: at, refreshed_at: at }),
    );
    const h = track(makeEngine(queueDir));
    await h.engine.start();
    expect(h.engine.active).toBe(true);
    expect(h.calls.logs.find((log) => log.level === "warn")?.message).toContain(
      "took over the notifier lock",
    );
  });
});
