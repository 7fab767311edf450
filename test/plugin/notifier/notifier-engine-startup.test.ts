// What a starting notifier engine does: on its very first start it records the history it finds, and
// only one engine acts on a queue (the lock; a passive engine, a stale or orphaned lock taken over).
import { mkdir, readdir, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import { describe, expect } from "vitest";
import type { Ledger } from "../../../plugin/notifier/notifier-ledger.ts";
import { LEDGER_FILE, saveLedger } from "../../../plugin/notifier/notifier-ledger.ts";
import { queuePaths } from "../../../protocol/index.ts";
import { engineTest as it, makeEngine, readLedger, waitFor } from "./engine-harness.ts";
import { CHANNEL, publishJob, writeReceipt } from "./queue-fixture.ts";

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

  it("after a restart never notifies a done job again: its entry is looked up, not held", async ({
    queueDir,
    track,
  }) => {
    const first = makeEngine(queueDir);
    await first.engine.start();
    await publishJob(queueDir, { jobId: SWEEP, status: "completed" });
    await waitFor("the hand-off", () => first.calls.events.length === 1 && first.calls.sends.length === 1);
    await writeReceipt(queueDir, SWEEP, "completed");
    await waitFor(
      "the acknowledgement",
      async () => (await readLedger(queueDir)).jobs[SWEEP]?.handoff.state === "acknowledged",
    );
    await first.engine.stop();
    // Fetched while no notifier ran: not a first start, so this one is still told (and proves the ledger kept).
    const mesh = "job-20260210-150000-starspec-mesh-study";
    await publishJob(queueDir, { jobId: mesh, status: "completed" });
    await writeReceipt(queueDir, mesh, "completed");

    const second = track(makeEngine(queueDir));
    await second.engine.start();
    await waitFor("the new job's message", () => second.calls.sends.length === 1);
    await second.engine.rescan();
    await second.engine.idle();
    expect(second.calls.sends.map((send) => send.text.includes(mesh))).toEqual([true]);
    expect(second.calls.sends.filter((send) => send.text.includes(SWEEP))).toEqual([]);
    expect(second.calls.events).toEqual([]);
    expect((await readLedger(queueDir)).jobs[SWEEP]).toMatchObject({
      notified: { state: "sent", attempts: 1 },
      handoff: { state: "acknowledged", by: "receipt" },
    });
  });

  it("imports the ledger.json of an earlier version once: no message again, the pending hand-off re-sent", async ({
    queueDir,
    track,
  }) => {
    const done = "job-20260210-120000-starspec-done-study";
    const at = new Date(Date.now() - 20 * 60_000).toISOString();
    const base = { status: "completed" as const, channel: CHANNEL, finished_at: at, recorded_at: at };
    const sent = { state: "sent" as const, at, target: "telegram:12345", attempts: 1 };
    const old: Ledger = {
      version: 1,
      created_at: at,
      jobs: {
        [done]: {
          ...base,
          job_id: done,
          notified: sent,
          handoff: { state: "acknowledged", at, by: "receipt", sent_at: [at] },
        },
        [SWEEP]: {
          ...base,
          job_id: SWEEP,
          notified: sent,
          handoff: { state: "pending", since: at, sent_at: [at] },
        },
      },
    };
    const dir = join(queuePaths(queueDir).stateDir, "notifier");
    await mkdir(dir, { recursive: true });
    await saveLedger(dir, old);
    for (const jobId of [done, SWEEP]) await publishJob(queueDir, { jobId, status: "completed" });

    const h = track(makeEngine(queueDir));
    await h.engine.start();
    await waitFor("the re-sent hand-off", () => h.calls.events.length === 1);
    await h.engine.rescan();
    await h.engine.idle();
    expect(h.calls.sends).toEqual([]);
    expect(h.calls.events[0]?.text).toContain(SWEEP);
    expect(h.calls.events[0]?.text).toContain("reminder");
    expect(h.calls.events[0]?.text).not.toContain(done);
    expect(h.calls.logs.find((log) => log.message.includes("imported"))?.message).toContain(
      `imported 2 of 2 entries from ${LEDGER_FILE}`,
    );
    const files = await readdir(dir);
    expect(files).not.toContain(LEDGER_FILE);
    expect(files.filter((name) => name.startsWith(`${LEDGER_FILE}.imported-`))).toHaveLength(1);
    const ledger = await readLedger(queueDir);
    expect(ledger.jobs[done]).toEqual(old.jobs[done]);
    expect(ledger.jobs[SWEEP]?.handoff.sent_at).toHaveLength(2);
  });
});
