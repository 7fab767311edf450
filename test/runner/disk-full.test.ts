import { mkdir, mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { initQueue } from "../../protocol/index.ts";
import { requireUnderCi } from "../helpers/python.ts";
import { readLedgerLines } from "./helpers/ledger-file.ts";
import type { TestQueue } from "./helpers/make-job.ts";
import { inboxJob, readText, submitJob, waitFor, waitForStatus } from "./helpers/make-job.ts";
import type { RunningRunner } from "./helpers/runner-harness.ts";
import { startRunner, testConfig } from "./helpers/runner-harness.ts";
import { canMount, fill, mountSmallDisk, unfill, unmountAll } from "./helpers/small-disk.ts";

/**
 * A full disk is a machine condition: the runner waits with a visible reason and carries on when
 * space returns. Never a lost, mislabelled or doubled job. Real small file systems (tmpfs, as root).
 */
const haveMount = requireUnderCi(canMount(), "root with tmpfs mounts (for the disk-full suite)");

let base: string;
let mounts: string[];
let running: RunningRunner | undefined;

function smallDisk(name: string, size: string): Promise<string> {
  return mountSmallDisk(path.join(base, name), size, mounts);
}

/** A queue at `queueRoot`; the test's submitter stages beside it (`home`), on the same file system. */
async function queueOn(queueRoot: string, work: string, state: string): Promise<TestQueue> {
  const paths = await initQueue(queueRoot);
  const home = path.dirname(queueRoot);
  const scratch = path.join(base, "scratch");
  await mkdir(scratch, { recursive: true });
  await mkdir(path.join(home, "staging"), { recursive: true });
  return { base: home, paths, work, state, scratch, cleanup: async () => {} };
}

beforeEach(async () => {
  base = await mkdtemp(path.join(tmpdir(), "atomizer-diskfull-"));
  mounts = [];
});
afterEach(async () => {
  await running?.stop();
  running = undefined;
  unmountAll(mounts);
  await rm(base, { recursive: true, force: true });
});

describe.runIf(haveMount)("a full disk", () => {
  test("work disk full at intake: the job waits (no verdict, no staging left), then runs once space returns", async () => {
    const work = await smallDisk("work", "2m");
    const queue = await queueOn(path.join(base, "queue"), work, path.join(base, "state"));
    running = await startRunner(testConfig(queue, "python3"));
    await fill(work);
    const counter = path.join(queue.scratch, "runs.txt");
    const jobId = await submitJob(queue, {
      name: "big model",
      fixture: "interleave.py",
      args: [counter],
      files: { "1_setup/model.prt": Buffer.alloc(512 * 1024, 1) },
    });
    await running.waitForLog(jobId, "waiting", "the disk is full (ENOSPC)");
    expect(await inboxJob(queue, jobId)).toBeUndefined();
    expect(await readdir(path.join(work, ".staging"))).toEqual([]);
    await unfill(work);
    expect(await waitForStatus(queue, jobId, ["completed", "failed"])).toMatchObject({ status: "completed" });
    expect(await readText(counter)).toBe(`${jobId}\n`);
  });

  test("queue disk full when a job ends: it stays running with the reason logged, then ends completed, not runner_restart", async () => {
    const disk = await smallDisk("queue-disk", "4m");
    const queue = await queueOn(path.join(disk, "queue"), path.join(base, "work"), path.join(base, "state"));
    running = await startRunner(testConfig(queue, "python3"));
    const counter = path.join(queue.scratch, "starts.txt");
    const jobId = await submitJob(queue, {
      name: "ends on a full disk",
      fixture: "counted_sleep.py",
      args: [counter, "1.5"],
    });
    await waitForStatus(queue, jobId, ["running"]);
    await fill(disk);
    await running.waitForLog(jobId, "waiting", "while publishing the end of the run");
    expect((await inboxJob(queue, jobId))?.status).toBe("running");
    // A restart while the disk is still full changes nothing: the outcome waits in the run folder.
    await running.runner.stop();
    running = await startRunner(testConfig(queue, "python3"));
    await unfill(disk);
    const done = await waitForStatus(queue, jobId, ["completed", "failed", "cancelled"]);
    expect(done).toMatchObject({ status: "completed", exit_code: 0 });
    expect(await readText(counter)).toBe(`${jobId}\n`);
  });

  test("state disk full at acceptance: the job is not taken until the ledger can record it, and runs once", async () => {
    const state = await smallDisk("state", "256k");
    const queue = await queueOn(path.join(base, "queue"), path.join(base, "work"), state);
    running = await startRunner(testConfig(queue, "python3"));
    await fill(state);
    const counter = path.join(queue.scratch, "runs.txt");
    const jobId = await submitJob(queue, {
      name: "no room in the ledger",
      fixture: "interleave.py",
      args: [counter],
    });
    await running.waitForLog(jobId, "the disk is full (ENOSPC)");
    expect(await inboxJob(queue, jobId)).toBeUndefined();
    await unfill(state);
    expect(await waitForStatus(queue, jobId, ["completed", "failed"])).toMatchObject({ status: "completed" });
    expect(await readText(counter)).toBe(`${jobId}\n`);
    expect(readLedgerLines(state).join("\n")).toContain(`"event":"finished","job_id":"${jobId}"`);
    await waitFor("no further runs", async () =>
      (await readText(counter)) === `${jobId}\n` ? true : undefined,
    );
  });
});
