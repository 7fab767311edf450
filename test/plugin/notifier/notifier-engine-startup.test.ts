// What a starting notifier engine does: on its very first start it records the history it finds, and
// only one engine acts on a queue (the lock; a passive engine, a stale or orphaned lock taken over).
import { mkdir, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import { describe, expect } from "vitest";
import { queuePaths } from "../../../protocol/index.ts";
import { engineTest as it, makeEngine, readLedger, waitFor } from "./engine-harness.ts";
import { publishJob, writeReceipt } from "./queue-fixture.ts";

const SWEEP = "job-20260210-143022-starspec-m1-wfe-sweep";

describe("notifier engine", () => {
  it("on its very first start records history as done, hands off unfetched jobs, and skips stale messages", async ({
    queueDir,
    track,
  }) => {
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

  it("lets only one engine act on a queue; the passive one takes over when the first stops", async ({
    queueDir,
    track,
  }) => {
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

  it.for([
    { why: "not refreshed for an hour", pid: process.pid, age: 3600_000 },
    { why: "its process is gone", pid: 2 ** 22 + 17, age: 0 },
  ])("takes over a lock that is $why", async ({ pid, age }, { queueDir, track }) => {
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
