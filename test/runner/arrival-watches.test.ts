import { appendFile, mkdir, mkdtemp, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { ArrivalWatches } from "../../runner/arrival-watches.ts";
import { createArrivalWatches, isArrivalEvent } from "../../runner/arrival-watches.ts";
import type { PendingJob } from "../../runner/job-intake.ts";
import { WatchedPendingJobs } from "../../runner/watched-pending.ts";
import { waitFor } from "./helpers/make-job.ts";

const JOB = "job-20260210-143022-starspec-wfe";
const OTHER = "job-20260210-143023-starspec-wfe";

describe("isArrivalEvent", () => {
  const posix = "/q/outbox/job-20260210-143022-starspec-wfe";
  const win = "C:\\Atomizer\\job-queue\\outbox\\job-20260210-143022-starspec-wfe";
  it.each([
    { event: "add", changed: `${posix}/job.json`, api: path.posix, want: true },
    { event: "add", changed: `${posix}/1_setup/m1.prt`, api: path.posix, want: true },
    { event: "addDir", changed: `${posix}/1_setup`, api: path.posix, want: true },
    { event: "unlinkDir", changed: posix, api: path.posix, want: true },
    { event: "change", changed: `${posix}/1_setup/.syncthing.m1.prt.tmp`, api: path.posix, want: false },
    { event: "add", changed: `${posix}/1_setup/.syncthing.m1.prt.tmp`, api: path.posix, want: false },
    { event: "unlink", changed: `${posix}/1_setup/.syncthing.m1.prt.tmp`, api: path.posix, want: true },
    { event: "change", changed: `${posix}/.atomizer-job.json.1-ab.tmp`, api: path.posix, want: false },
    { event: "add", changed: `${win}\\1_setup\\m1.prt`, api: path.win32, want: true },
    { event: "change", changed: `${win}\\1_setup\\~syncthing~m1.prt.tmp`, api: path.win32, want: false },
    { event: "unlink", changed: `${win}\\1_setup\\~syncthing~m1.prt.tmp`, api: path.win32, want: true },
    // On POSIX a backslash is part of the name: this is one odd file name, not a temp file.
    { event: "add", changed: `${posix}/x\\~syncthing~m1.prt.tmp`, api: path.posix, want: true },
  ])("$event $changed -> $want", ({ event, changed, api, want }) => {
    expect(isArrivalEvent(event, changed, api)).toBe(want);
  });
});

describe("createArrivalWatches", () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0)) await cleanup();
  });

  const setUp = async (limit = 4, quietMs = 150) => {
    const root = await mkdtemp(path.join(tmpdir(), "atomizer-arrival-"));
    const outbox = path.join(root, "outbox");
    await mkdir(path.join(outbox, JOB), { recursive: true });
    await mkdir(path.join(outbox, OTHER), { recursive: true });
    const looks: string[] = [];
    const limited: string[] = [];
    const errors: unknown[] = [];
    const watches: ArrivalWatches = createArrivalWatches({
      outbox,
      limit,
      quietMs,
      maxDelayMs: 5_000,
      recheck: async (jobId) => {
        looks.push(jobId);
      },
      onLimit: (jobId) => limited.push(jobId),
      onError: (_jobId, error) => errors.push(error),
    });
    cleanups.push(async () => {
      await watches.close();
      await rm(root, { recursive: true, force: true });
      expect(errors).toEqual([]);
    });
    const count = (jobId: string) => looks.filter((id) => id === jobId).length;
    /** Follows a job and waits for the look its watch makes once live. */
    const follow = async (jobId: string) => {
      const before = count(jobId);
      watches.follow(jobId, true);
      await waitFor(`${jobId}'s watch to go live`, () => (count(jobId) > before ? true : undefined), 10_000);
    };
    return { dir: (jobId: string) => path.join(outbox, jobId), watches, looks, limited, count, follow };
  };

  const settle = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  it("looks again when a file lands in the job folder or a subfolder made after the watch", async () => {
    const t = await setUp();
    await t.follow(JOB);
    await writeFile(path.join(t.dir(JOB), "job.json"), "{}");
    await waitFor("a look after job.json", () => (t.count(JOB) >= 2 ? true : undefined), 10_000);
    await mkdir(path.join(t.dir(JOB), "1_setup", "parts"), { recursive: true });
    await writeFile(path.join(t.dir(JOB), "1_setup", "parts", "p.prt"), "x");
    await waitFor("a look after 1_setup/parts/p.prt", () => (t.count(JOB) >= 3 ? true : undefined), 10_000);
    expect(t.count(OTHER)).toBe(0);
  });

  it("answers a burst of files with one look, not one per file", async () => {
    const t = await setUp(4, 400);
    await t.follow(JOB);
    for (let i = 0; i < 50; i++) await writeFile(path.join(t.dir(JOB), `part_${i}.prt`), "x");
    await waitFor("a look after the burst", () => (t.count(JOB) >= 2 ? true : undefined), 10_000);
    await settle(800);
    expect(t.count(JOB)).toBeLessThanOrEqual(3);
  });

  it("ignores a temp file being written and looks when it is renamed into place or removed", async () => {
    const t = await setUp();
    await t.follow(JOB);
    const temp = path.join(t.dir(JOB), ".syncthing.m1.prt.tmp");
    for (let i = 0; i < 10; i++) await appendFile(temp, Buffer.alloc(64 * 1024, i));
    await settle(600);
    expect(t.count(JOB)).toBe(1);
    await rename(temp, path.join(t.dir(JOB), "m1.prt"));
    await waitFor("a look after the rename", () => (t.count(JOB) >= 2 ? true : undefined), 10_000);
    await writeFile(path.join(t.dir(JOB), "~syncthing~m2.prt.tmp"), "x");
    await settle(600);
    const beforeRemoval = t.count(JOB);
    await rm(path.join(t.dir(JOB), "~syncthing~m2.prt.tmp"));
    await waitFor(
      "a look after the temp file went",
      () => (t.count(JOB) > beforeRemoval ? true : undefined),
      10_000,
    );
  });

  it("looks when the job folder vanishes (intake then finds it gone and lets the watch go)", async () => {
    const t = await setUp();
    await t.follow(JOB);
    await rm(t.dir(JOB), { recursive: true });
    await waitFor("a look after the folder vanished", () => (t.count(JOB) >= 2 ? true : undefined), 10_000);
    t.watches.follow(JOB, false);
    expect(t.watches.ids()).toEqual([]);
  });

  it("watches at most `limit` jobs; the longest-waiting unwatched job gets the next free watch", async () => {
    const t = await setUp(1);
    await t.follow(JOB);
    t.watches.follow(OTHER, true);
    t.watches.follow(OTHER, true);
    expect(t.watches.ids()).toEqual([JOB]);
    expect(t.limited).toEqual([OTHER]);
    t.watches.follow(JOB, false);
    expect(t.watches.ids()).toEqual([OTHER]);
    await waitFor("a look at the promoted job", () => (t.count(OTHER) >= 1 ? true : undefined), 10_000);
    await writeFile(path.join(t.dir(OTHER), "job.json"), "{}");
    await waitFor("a look after its job.json", () => (t.count(OTHER) >= 2 ? true : undefined), 10_000);
  });

  it("stops every watch on close(): no looks and no new watches afterwards", async () => {
    const t = await setUp();
    await t.follow(JOB);
    await t.watches.close();
    t.watches.follow(OTHER, true);
    expect(t.watches.ids()).toEqual([]);
    await writeFile(path.join(t.dir(JOB), "job.json"), "{}");
    await settle(600);
    expect(t.looks).toEqual([JOB]);
  });
});

describe("WatchedPendingJobs", () => {
  const state: PendingJob = { firstSeenMs: 0, changedAtMs: 0 };
  const recorder = () => {
    const calls: string[] = [];
    const tasks: Array<() => Promise<void>> = [];
    const watches: ArrivalWatches = {
      follow: (jobId, waiting) => {
        calls.push(`${waiting ? "watch" : "drop"} ${jobId}`);
      },
      ids: () => [],
      close: async () => {},
    };
    // The look that added the job is still running: its follow-up waits in the lane.
    const pending = new WatchedPendingJobs(watches, async (_jobId, task) => {
      tasks.push(task);
    });
    const endLook = async () => {
      for (const task of tasks.splice(0)) await task();
    };
    return { calls, pending, endLook };
  };

  it.each([
    { when: "a look ends with the job still waiting", accepted: false, want: [`watch ${JOB}`] },
    { when: "the look that added the job accepts it", accepted: true, want: [`drop ${JOB}`] },
  ])("watches only when $when", async ({ accepted, want }) => {
    const { calls, pending, endLook } = recorder();
    pending.set(JOB, state);
    if (accepted) pending.delete(JOB);
    await endLook();
    expect(calls).toEqual(want);
  });

  it("drops the watch of every job on clear()", async () => {
    const { calls, pending, endLook } = recorder();
    pending.set(JOB, state).set(OTHER, state);
    await endLook();
    pending.clear();
    expect(calls).toEqual([`watch ${JOB}`, `watch ${OTHER}`, `drop ${JOB}`, `drop ${OTHER}`]);
    expect(pending.size).toBe(0);
  });
});
