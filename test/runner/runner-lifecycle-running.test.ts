// A real runner running jobs: output in true order and published results, exit codes, timeouts (the
// grandchild dies too), two slots at once, and cancels before acceptance, while queued and while running.
import { existsSync } from "node:fs";
import { readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect } from "vitest";
import { makeJobId, publishDirectory, RunnerHeartbeatSchema, writeJsonAtomic } from "../../protocol/index.ts";
import { createRunner } from "../../runner/runner-lifecycle.ts";
import { isProcessAlive } from "../../runner/tree-kill.ts";
import {
  buildJobFiles,
  inboxJob,
  readLines,
  readText,
  requestCancel,
  submitJob,
  submittedJob,
  waitFor,
  waitForStatus,
} from "./helpers/make-job.ts";
import { runnerTest as test, testConfig } from "./helpers/runner-harness.ts";

const PYTHON = "python3";

describe("running", () => {
  test("stdout and stderr land in true order, results and log are published, seq grows on every write", async ({
    queue,
    startRunner,
  }) => {
    await startRunner(testConfig(queue, PYTHON));
    const jobId = await submitJob(queue, { name: "interleaved output", fixture: "interleave.py" });
    const done = await waitForStatus(queue, jobId, ["completed", "failed"]);
    const log = await readLines(path.join(queue.paths.inbox, jobId, "stdout.log"));
    expect(log.slice(1)).toEqual([
      ...Array.from({ length: 10 }, (_, i) => `${i % 2 === 0 ? "out" : "err"} line ${i + 1}`),
      "done",
    ]);
    expect(log[0]).toBe(`job ${jobId} in ${path.join(queue.work, jobId)}`);
    expect(done).toMatchObject({ status: "completed", exit_code: 0, runner: { host: "test-host" } });
    expect(done.results?.files.map((f) => f.path)).toEqual([
      "3_results/plots/curve.png",
      "3_results/table.csv",
      "stdout.log",
    ]);
    expect(done.seq).toBeGreaterThanOrEqual(3);
    expect(existsSync(path.join(queue.paths.outbox, jobId, "3_results"))).toBe(false);
  });

  test("a script that exits 3 fails with exit_code and the last log lines", async ({
    queue,
    startRunner,
  }) => {
    await startRunner(testConfig(queue, PYTHON));
    const jobId = await submitJob(queue, { name: "exits with three", fixture: "exit_three.py" });
    const done = await waitForStatus(queue, jobId, ["completed", "failed"]);
    expect(done).toMatchObject({ status: "failed", exit_code: 3, error: { kind: "exit_code" } });
    expect(done.error?.message).toContain("exited with code 3");
    expect(done.error?.log_tail).toContain("error: the model did not converge");
  });

  test("a run longer than timeout_s is killed and fails with timeout", async ({ queue, startRunner }) => {
    await startRunner(testConfig(queue, PYTHON, { killGraceS: 0.5 }));
    const pidFile = path.join(queue.scratch, "grandchild.pid");
    const jobId = await submitJob(queue, {
      name: "too slow",
      fixture: "spawn_grandchild.py",
      args: [pidFile],
      timeout_s: 1,
    });
    const done = await waitForStatus(queue, jobId, ["completed", "failed", "cancelled"]);
    expect(done.status).toBe("failed");
    expect(done.error?.kind).toBe("timeout");
    expect(done.error?.message).toContain("limit of 1 s");
    const grandchild = Number(await readFile(pidFile, "utf8"));
    await waitFor("the grandchild to be gone", async () => !(await isProcessAlive(grandchild)));
  });

  test("two slots run two jobs at the same time", async ({ queue, startRunner }) => {
    await startRunner(testConfig(queue, PYTHON, { slots: 2 }));
    const meeting = path.join(queue.scratch, "meeting");
    await import("node:fs/promises").then((fs) => fs.mkdir(meeting));
    const a = await submitJob(queue, { name: "first of two", fixture: "meet.py", args: [meeting, "a", "2"] });
    const b = await submitJob(queue, {
      name: "second of two",
      fixture: "meet.py",
      args: [meeting, "b", "2"],
    });
    const [doneA, doneB] = await Promise.all([
      waitForStatus(queue, a, ["completed", "failed"], 55_000),
      waitForStatus(queue, b, ["completed", "failed"], 55_000),
    ]);
    expect([doneA.status, doneB.status]).toEqual(["completed", "completed"]);
  });

  test("cancel: before acceptance, while queued, and while running (the grandchild dies too)", async ({
    queue,
    startRunner,
  }) => {
    const running = await startRunner(testConfig(queue, PYTHON, { slots: 1 }));
    const pidFile = path.join(queue.scratch, "grandchild.pid");
    const counter = path.join(queue.scratch, "runs.txt");
    const busy = await submitJob(queue, {
      name: "long solver",
      fixture: "spawn_grandchild.py",
      args: [pidFile, counter],
    });
    await waitForStatus(queue, busy, ["running"]);
    const grandchild = Number(
      await waitFor("the grandchild pid", () => readText(pidFile).then((t) => t || undefined)),
    );
    const waiting = await submitJob(queue, {
      name: "waiting behind",
      fixture: "interleave.py",
      args: [counter],
    });
    await waitForStatus(queue, waiting, ["queued"]);
    const heartbeat = await waitFor("the runner heartbeat to list both jobs", async () => {
      const parsed = RunnerHeartbeatSchema.safeParse(
        JSON.parse((await readText(path.join(queue.paths.inbox, ".runners", "test-host.json"))) || "null"),
      );
      return parsed.success && parsed.data.queued.includes(waiting) ? parsed.data : undefined;
    });
    expect(heartbeat).toMatchObject({ host: "test-host", slots: 1, running: [busy], queued: [waiting] });

    await requestCancel(queue, waiting, "not needed");
    const cancelledQueued = await waitForStatus(queue, waiting, ["cancelled", "completed", "failed"]);
    expect(cancelledQueued.error).toMatchObject({ kind: "cancelled" });
    expect(cancelledQueued.error?.message).toContain("manager: not needed");
    expect(cancelledQueued.started_at).toBeUndefined();

    await requestCancel(queue, busy, "wrong mesh");
    const cancelledRunning = await waitForStatus(queue, busy, ["cancelled", "completed", "failed"]);
    expect(cancelledRunning.error?.kind).toBe("cancelled");
    await waitFor("the grandchild to be gone", async () => !(await isProcessAlive(grandchild)));
    expect(await readLines(counter)).toEqual([busy]);

    // Not accepted yet: its model file never arrived.
    const early = makeJobId("cancelled early", new Date());
    const staging = path.join(queue.base, "staging", early);
    const manifest = await buildJobFiles(staging, {
      name: "x",
      fixture: "interleave.py",
      files: { "model.prt": "m" },
    });
    await writeJsonAtomic(
      path.join(staging, "job.json"),
      submittedJob(early, { name: "x", fixture: "interleave.py", args: [counter] }, manifest, new Date()),
    );
    await rm(path.join(staging, "model.prt"));
    await publishDirectory(staging, path.join(queue.paths.outbox, early));
    await running.waitForLog(early, "waiting");
    await requestCancel(queue, early);
    const cancelledEarly = await waitForStatus(queue, early, ["cancelled", "failed", "completed"]);
    expect(cancelledEarly.error?.message).toContain("before it started");
    // The missing file turns up and the cancel request is written again: a full pass changes nothing.
    await writeFile(path.join(queue.paths.outbox, early, "model.prt"), "m");
    await requestCancel(queue, busy, "again, harmless");
    await running.stop();
    const again = createRunner(testConfig(queue, PYTHON, { once: true }), { log: () => {} });
    await again.start();
    await again.done;
    await again.stop();
    // A clean stop leaves a last heartbeat that says so, with nothing claimed as running.
    const last = RunnerHeartbeatSchema.parse(
      JSON.parse(await readText(path.join(queue.paths.inbox, ".runners", "test-host.json"))),
    );
    expect(last.stopped_at).toBeDefined();
    expect(last.running).toEqual([]);
    expect(await readLines(counter)).toEqual([busy]);
    expect((await inboxJob(queue, early))?.status).toBe("cancelled");
    expect((await inboxJob(queue, busy))?.status).toBe("cancelled");
  });
});
