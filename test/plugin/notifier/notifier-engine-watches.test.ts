// The notifier engine's shallow watches: inbox/ at depth 0 and a job's folder only while its outcome is
// open, including result folders that appear late, and what it watches again after a restart.
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect } from "vitest";
import { queuePaths } from "../../../protocol/index.ts";
import { engineTest as it, makeEngine, readLedger, waitFor } from "./engine-harness.ts";
import { deliverWithheld, publishJob } from "./queue-fixture.ts";

const SWEEP = "job-20260210-143022-starspec-m1-wfe-sweep";
const MESH = "job-20260210-150000-starspec-mesh-study";

describe("notifier engine", () => {
  describe("shallow watches (inbox/ at depth 0, a job's folder only while its outcome is open)", () => {
    it("watches a job folder that appears before its job.json and hands the job off when it lands", async ({
      queueDir,
      track,
    }) => {
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

    it("notifies a completed job only once result files arriving later in new 3_results folders verify", async ({
      queueDir,
      track,
    }) => {
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

    it("stops watching a job once it is decided, and never watches a decided one again", async ({
      queueDir,
      track,
    }) => {
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

    it("after a restart watches only the jobs still open and picks up those that changed meanwhile", async ({
      queueDir,
      track,
    }) => {
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
});
