import { existsSync, readFileSync, watch } from "node:fs";
import { readFile, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { DatabaseSync } from "node:sqlite";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import type { Job } from "../../protocol/index.ts";
import {
  buildManifest,
  makeJobId,
  publishDirectory,
  RunnerHeartbeatSchema,
  writeJsonAtomic,
} from "../../protocol/index.ts";
import { createRunner } from "../../runner/runner-lifecycle.ts";
import { isProcessAlive } from "../../runner/tree-kill.ts";
import { findOptunaPython, requireUnderCi } from "../helpers/python.ts";
import type { TestQueue } from "./helpers/make-job.ts";
import {
  buildJobFiles,
  deliverLikeSyncthing,
  inboxJob,
  makeQueue,
  readText,
  requestCancel,
  submitJob,
  submittedJob,
  waitFor,
  waitForStatus,
} from "./helpers/make-job.ts";
import type { RunningRunner } from "./helpers/runner-harness.ts";
import { startRunner, testConfig } from "./helpers/runner-harness.ts";

const PYTHON = "python3";

let queue: TestQueue;
let running: RunningRunner | undefined;
beforeEach(async () => {
  queue = await makeQueue();
});
afterEach(async () => {
  await running?.stop();
  running = undefined;
  await queue.cleanup();
});

const lines = async (file: string) => (await readText(file)).split("\n").filter((l) => l !== "");

describe("picking up jobs", () => {
  test("a job whose model file arrives after job.json starts only once every file is verified", async () => {
    const model = Buffer.alloc(3 * 1024 * 1024, 7);
    model.write("model header", 0);
    const jobId = makeJobId("late model file", new Date());
    const staging = path.join(queue.base, "staging", jobId);
    const manifest = await buildJobFiles(staging, {
      name: "x",
      fixture: "digest.py",
      files: { "1_setup/m1.prt": model },
    });
    await writeJsonAtomic(
      path.join(staging, "job.json"),
      submittedJob(
        jobId,
        { name: "x", fixture: "digest.py", args: ["1_setup/m1.prt"] },
        manifest,
        new Date(),
      ),
    );
    // Syncthing delivers job.json and the script first; the model file comes later.
    await rm(path.join(staging, "1_setup"), { recursive: true });
    await publishDirectory(staging, path.join(queue.paths.outbox, jobId));
    running = await startRunner(testConfig(queue, PYTHON));
    await running.waitForLog(jobId, "waiting", "missing: 1_setup/m1.prt");
    await deliverLikeSyncthing(
      path.join(queue.paths.outbox, jobId, "1_setup", ".syncthing.m1.prt.tmp.partial"),
      "",
    );
    await rm(path.join(queue.paths.outbox, jobId, "1_setup", ".syncthing.m1.prt.tmp.partial"));
    expect(await inboxJob(queue, jobId)).toBeUndefined();
    await deliverLikeSyncthing(path.join(queue.paths.outbox, jobId, "1_setup", "m1.prt"), model);
    const done = await waitForStatus(queue, jobId, ["completed", "failed"]);
    expect(done.status).toBe("completed");
    const wanted = manifest.find((f) => f.path === "1_setup/m1.prt");
    expect(await readText(path.join(queue.paths.inbox, jobId, "stdout.log"))).toContain(
      `size ${model.length} sha256 ${wanted?.sha256}`,
    );
  });

  test("a file with the right size but the wrong content waits, then fails as incomplete_transfer; fixed in time, it runs", async () => {
    const broken = await submitJob(queue, {
      name: "wrong content",
      fixture: "digest.py",
      args: ["data.bin"],
      files: { "data.bin": "good data" },
    });
    const fixable = await submitJob(queue, {
      name: "fixable content",
      fixture: "digest.py",
      args: ["data.bin"],
      files: { "data.bin": "good data" },
    });
    await writeFile(path.join(queue.paths.outbox, broken, "data.bin"), "evil data");
    await writeFile(path.join(queue.paths.outbox, fixable, "data.bin"), "bad! data");
    running = await startRunner(testConfig(queue, PYTHON, { graceS: 2.5 }));
    await running.waitForLog(fixable, "waiting", "content differs (sha256): data.bin");
    await deliverLikeSyncthing(path.join(queue.paths.outbox, fixable, "data.bin"), "good data");
    expect((await waitForStatus(queue, fixable, ["completed", "failed"])).status).toBe("completed");
    const failed = await waitForStatus(queue, broken, ["failed", "completed"]);
    expect(failed.error?.kind).toBe("incomplete_transfer");
    expect(failed.error?.message).toContain("content differs (sha256): data.bin");
    expect(failed.error?.missing_files).toEqual(["data.bin"]);
    expect(failed.started_at).toBeUndefined();
  });

  test("a finished job whose folder disappears and comes back never runs again", async () => {
    running = await startRunner(testConfig(queue, PYTHON));
    const counter = path.join(queue.scratch, "runs.txt");
    const jobId = await submitJob(queue, {
      name: "run once only",
      fixture: "interleave.py",
      args: [counter],
    });
    await waitForStatus(queue, jobId, ["completed"]);
    const kept = path.join(queue.base, "kept");
    // The submitting side archives the job: its outbox entry goes, so the runner cleans up.
    await rename(path.join(queue.paths.outbox, jobId), kept);
    await running.waitForLog(jobId, "work copy removed");
    expect(existsSync(path.join(queue.paths.inbox, jobId))).toBe(false);
    expect(existsSync(path.join(queue.work, jobId))).toBe(false);
    await rename(kept, path.join(queue.paths.outbox, jobId));
    await running.waitForLog(jobId, "ignored", "never runs twice");
    expect(await lines(counter)).toEqual([jobId]);
    expect(existsSync(path.join(queue.paths.inbox, jobId))).toBe(false);
  });

  test("a plain SYS_19 job without manifest runs once its folder has settled", async () => {
    running = await startRunner(testConfig(queue, PYTHON, { settleS: 0.5 }));
    const jobId = makeJobId("plain seed job", new Date());
    const staging = path.join(queue.base, "staging", jobId);
    await buildJobFiles(staging, {
      name: "x",
      fixture: "interleave.py",
      files: { "README.md": "what it does" },
    });
    await writeJsonAtomic(
      path.join(staging, "job.json"),
      submittedJob(jobId, { name: "x", fixture: "interleave.py" }, undefined, new Date()),
    );
    await publishDirectory(staging, path.join(queue.paths.outbox, jobId));
    const done = await waitForStatus(queue, jobId, ["completed", "failed"]);
    expect(done.status).toBe("completed");
    expect(done.files?.map((f) => f.path)).toEqual(["README.md", "interleave.py"]);
    expect(done.schema_version).toBeUndefined();
  });
});

describe("running", () => {
  test("stdout and stderr land in true order, results and log are published, seq grows on every write", async () => {
    running = await startRunner(testConfig(queue, PYTHON));
    const jobId = await submitJob(queue, { name: "interleaved output", fixture: "interleave.py" });
    const done = await waitForStatus(queue, jobId, ["completed", "failed"]);
    const log = await lines(path.join(queue.paths.inbox, jobId, "stdout.log"));
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

  test("a script that exits 3 fails with exit_code and the last log lines", async () => {
    running = await startRunner(testConfig(queue, PYTHON));
    const jobId = await submitJob(queue, { name: "exits with three", fixture: "exit_three.py" });
    const done = await waitForStatus(queue, jobId, ["completed", "failed"]);
    expect(done).toMatchObject({ status: "failed", exit_code: 3, error: { kind: "exit_code" } });
    expect(done.error?.message).toContain("exited with code 3");
    expect(done.error?.log_tail).toContain("error: the model did not converge");
  });

  test("a run longer than timeout_s is killed and fails with timeout", async () => {
    running = await startRunner(testConfig(queue, PYTHON, { killGraceS: 0.5 }));
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

  test("two slots run two jobs at the same time", async () => {
    running = await startRunner(testConfig(queue, PYTHON, { slots: 2 }));
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

  test("cancel: before acceptance, while queued, and while running (the grandchild dies too)", async () => {
    running = await startRunner(testConfig(queue, PYTHON, { slots: 1 }));
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
    expect(await lines(counter)).toEqual([busy]);

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
    running = undefined;
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
    expect(await lines(counter)).toEqual([busy]);
    expect((await inboxJob(queue, early))?.status).toBe("cancelled");
    expect((await inboxJob(queue, busy))?.status).toBe("cancelled");
  });
});

describe("results", () => {
  const python = findOptunaPython();
  const haveOptuna = requireUnderCi(python !== undefined, "a python3 with optuna and matplotlib");

  test.runIf(haveOptuna)(
    "progress comes from study.db while running; results are published before the final job.json",
    async () => {
      running = await startRunner(testConfig(queue, python ?? "python3"));
      const release = path.join(queue.scratch, "release");
      const jobId = await submitJob(queue, {
        name: "optuna progress",
        fixture: "optuna_study.py",
        args: ["6", release],
      });
      const during = await waitFor(
        "progress with 6 complete trials",
        async () => {
          const job = await inboxJob(queue, jobId);
          return job?.status === "running" && job.progress?.trials_complete === 6 ? job : undefined;
        },
        45_000,
      );
      expect(during.progress).toMatchObject({
        source: "study.db",
        trials_failed: 0,
        trials_pruned: 0,
        best_trial: expect.any(Number),
      });
      expect(Object.keys(during.progress?.best_params ?? {}).sort()).toEqual(["n", "shape", "x"]);
      expect(["hex", "tri", "square"]).toContain(during.progress?.best_params?.shape);
      expect(Number.isInteger(during.progress?.best_params?.n)).toBe(true);
      await waitFor("the live stdout.log", async () =>
        (await readText(path.join(queue.paths.inbox, jobId, "stdout.log"))).includes("trial 5"),
      );

      const inboxDir = path.join(queue.paths.inbox, jobId);
      // Top-level renames in inbox/<id>/, in the order the kernel reports them.
      const events: string[] = [];
      const watcher = watch(inboxDir, (_event, name) => {
        if (name && !name.includes(".atomizer-")) events.push(name);
      });
      // The invariant itself: whenever job.json shows the final status, every listed result is already there.
      const observe = async (): Promise<string[]> => {
        const deadline = Date.now() + 45_000;
        while (Date.now() < deadline) {
          let job: Job | undefined;
          try {
            job = JSON.parse(readFileSync(path.join(inboxDir, "job.json"), "utf8")) as Job;
          } catch {
            job = undefined;
          }
          if (job?.status === "completed" || job?.status === "failed") {
            return (job.results?.files ?? [])
              .map((file) => file.path)
              .filter((file) => !existsSync(path.join(inboxDir, ...file.split("/"))));
          }
          await new Promise((resolve) => setImmediate(resolve));
        }
        throw new Error("job.json never showed a final status");
      };
      try {
        const missingAtFinal = observe();
        await writeFile(release, "go");
        expect(await missingAtFinal).toEqual([]);
        const done = await waitForStatus(queue, jobId, ["completed", "failed"], 45_000);
        await waitFor("the rename of the final job.json to be reported", () => events.at(-1) === "job.json");
        expect(done.status).toBe("completed");
        const published = done.results?.files.map((f) => f.path) ?? [];
        expect(published).toEqual([
          "3_results/convergence.png",
          "3_results/study.db",
          "3_results/trials.csv",
          "stdout.log",
        ]);
        const lastJobJson = events.lastIndexOf("job.json");
        expect(events.lastIndexOf("stdout.log")).toBeGreaterThanOrEqual(0);
        expect(events.lastIndexOf("stdout.log")).toBeLessThan(lastJobJson);
        expect(events.indexOf("3_results")).toBeLessThan(lastJobJson);
        const manifest = await buildManifest(inboxDir, published);
        expect(manifest).toEqual(done.results?.files);
        const db = new DatabaseSync(path.join(inboxDir, "3_results", "study.db"), { readOnly: true });
        const row = db.prepare("SELECT COUNT(*) AS n FROM trials WHERE state = 'COMPLETE'").get() as {
          n: number;
        };
        db.close();
        expect(row.n).toBe(6);
      } finally {
        watcher.close();
      }
    },
  );

  test.runIf(haveOptuna)("a script's own progress.json wins over study.db", async () => {
    running = await startRunner(testConfig(queue, python ?? "python3"));
    const release = path.join(queue.scratch, "release");
    const jobId = await submitJob(queue, {
      name: "script progress",
      fixture: "optuna_study.py",
      args: ["3", release, "progress"],
    });
    const during = await waitFor(
      "progress from progress.json",
      async () => {
        const job = await inboxJob(queue, jobId);
        return job?.progress?.source === "progress.json" && job.progress.trials_complete === 3
          ? job
          : undefined;
      },
      45_000,
    );
    expect(during.progress).toMatchObject({ trials_planned: 3, message: "from the script" });
    await writeFile(release, "go");
    expect((await waitForStatus(queue, jobId, ["completed", "failed"], 45_000)).status).toBe("completed");
  });
});
