// A real runner with real Optuna: progress read from study.db (or the script's own progress.json) while
// a study runs, and every result published before the final job.json.
import { existsSync, readFileSync, watch } from "node:fs";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { DatabaseSync } from "node:sqlite";
import { describe, expect } from "vitest";
import type { Job } from "../../protocol/index.ts";
import { buildManifest } from "../../protocol/index.ts";
import { findOptunaPython, requireUnderCi } from "../helpers/python.ts";
import { inboxJob, readText, submitJob, waitFor, waitForStatus } from "./helpers/make-job.ts";
import { runnerTest as test, testConfig } from "./helpers/runner-harness.ts";

describe("results", () => {
  const python = findOptunaPython();
  const haveOptuna = requireUnderCi(python !== undefined, "a python3 with optuna and matplotlib");

  test.runIf(haveOptuna)(
    "progress comes from study.db while running; results are published before the final job.json",
    async ({ queue, startRunner }) => {
      await startRunner(testConfig(queue, python ?? "python3"));
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

  test.runIf(haveOptuna)(
    "a script's own progress.json wins over study.db",
    async ({ queue, startRunner }) => {
      await startRunner(testConfig(queue, python ?? "python3"));
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
    },
  );
});
