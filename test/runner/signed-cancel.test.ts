// Cancel requests on a runner with trusted keys: only a request signed by a trusted key and naming the
// job stops it; anything else is logged once as forged or unsigned and the job runs on. Without trusted
// keys every request still counts, even one that cannot be read.
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect } from "vitest";
import type { TestQueue } from "./helpers/make-job.ts";
import { readLines, waitForStatus } from "./helpers/make-job.ts";
import type { RunningRunner } from "./helpers/runner-harness.ts";
import { runnerTest as test, testConfig } from "./helpers/runner-harness.ts";
import type { TestKey } from "./helpers/signed-job.ts";
import { makeKey, submitSignedJob, writeCancel } from "./helpers/signed-job.ts";

const PYTHON = "python3";

interface Keys {
  trusted: TestKey;
  stranger: TestKey;
}

/** A signed job that records its start in `counter` and runs for `seconds`. */
function sleeper(queue: TestQueue, keys: Keys, name: string, seconds: number) {
  const counter = path.join(queue.scratch, "starts.txt");
  return submitSignedJob(
    queue,
    { name, fixture: "counted_sleep.py", args: [counter, String(seconds)] },
    keys.trusted.key,
  );
}

async function writeGarbage(queue: TestQueue, jobId: string): Promise<void> {
  await mkdir(queue.paths.cancelDir, { recursive: true });
  await writeFile(path.join(queue.paths.cancelDir, `${jobId}.json`), "{ not json");
}

interface IgnoredCase {
  name: string;
  write: (queue: TestQueue, jobId: string, keys: Keys) => Promise<void>;
  problem: string;
}

const IGNORED: IgnoredCase[] = [
  {
    name: "unsigned (forged)",
    write: (queue, jobId) => writeCancel(queue, jobId, undefined),
    problem: "it carries no signature",
  },
  {
    name: "signed by an unknown key",
    write: (queue, jobId, keys) => writeCancel(queue, jobId, keys.stranger.key),
    problem: "which is not trusted here",
  },
  {
    name: "signed by a trusted key for another job",
    write: (queue, jobId, keys) =>
      writeCancel(queue, jobId, keys.trusted.key, { job_id: "job-20260101-000000-other" }),
    problem: "the request names job job-20260101-000000-other, not this one",
  },
  {
    name: "unreadable",
    write: (queue, jobId) => writeGarbage(queue, jobId),
    problem: "the request file cannot be read",
  },
];

async function keyedRunner(
  queue: TestQueue,
  startRunner: (config: ReturnType<typeof testConfig>) => Promise<RunningRunner>,
) {
  const keys = { trusted: await makeKey(queue, "submitter"), stranger: await makeKey(queue, "stranger") };
  const running = await startRunner(testConfig(queue, PYTHON, { trustKeys: [keys.trusted.publicPath] }));
  return { keys, running };
}

describe("a runner with trusted keys", () => {
  test.for(IGNORED)(
    "ignores a cancel request $name while the job runs: the job completes",
    async ({ write, problem }, { queue, startRunner }) => {
      const { keys, running } = await keyedRunner(queue, startRunner);
      const jobId = await sleeper(queue, keys, "cancel me not", 1.5);
      await waitForStatus(queue, jobId, ["running"]);
      await write(queue, jobId, keys);
      await running.waitForLog(jobId, "forged or unsigned cancel request ignored: ", problem);
      const done = await waitForStatus(queue, jobId, ["completed", "cancelled", "failed"]);
      expect(done.status).toBe("completed");
      // Logged once, not at every rescan.
      expect(running.lines.filter((line) => line.includes("forged or unsigned cancel")).length).toBe(1);
    },
  );

  test("ignores a forged cancel request already there when the job arrives: it runs", async ({
    queue,
    startRunner,
  }) => {
    const { keys, running } = await keyedRunner(queue, startRunner);
    const counter = path.join(queue.scratch, "starts.txt");
    const jobId = "job-20260210-143000-early-forgery";
    await writeCancel(queue, jobId, keys.stranger.key);
    await submitSignedJob(
      queue,
      {
        name: "early forgery",
        fixture: "counted_sleep.py",
        args: [counter, "0"],
        createdAt: new Date("2026-02-10T14:30:00Z"),
      },
      keys.trusted.key,
    );
    const done = await waitForStatus(queue, jobId, ["completed", "cancelled", "failed"]);
    expect(done.status).toBe("completed");
    expect(await readLines(counter)).toEqual([jobId]);
    await running.waitForLog(jobId, "forged or unsigned cancel request ignored");
  });

  test("honours a cancel request signed by a trusted key, running or queued", async ({
    queue,
    startRunner,
  }) => {
    const { keys } = await keyedRunner(queue, startRunner);
    const busy = await sleeper(queue, keys, "long study", 60);
    await waitForStatus(queue, busy, ["running"]);
    const waiting = await sleeper(queue, keys, "queued study", 60);
    await waitForStatus(queue, waiting, ["queued"]);
    await writeCancel(queue, waiting, keys.trusted.key);
    await writeCancel(queue, busy, keys.trusted.key);
    for (const [jobId, when] of [
      [waiting, "(while queued)"],
      [busy, ""],
    ] as const) {
      const done = await waitForStatus(queue, jobId, ["cancelled", "completed", "failed"]);
      expect(done.status).toBe("cancelled");
      expect(done.error?.message).toContain(
        `cancelled at the request of manager: changed my mind ${when}`.trim(),
      );
    }
  });
});

describe("a runner without trusted keys", () => {
  test.for([
    {
      name: "an unsigned request",
      write: (queue: TestQueue, jobId: string) => writeCancel(queue, jobId, undefined),
    },
    { name: "an unreadable request", write: writeGarbage },
  ])("still cancels on $name, as before signatures", async ({ write }, { queue, startRunner }) => {
    const key = await makeKey(queue, "submitter");
    await startRunner(testConfig(queue, PYTHON));
    const jobId = await sleeper(queue, { trusted: key, stranger: key }, "plain cancel", 60);
    await waitForStatus(queue, jobId, ["running"]);
    await write(queue, jobId);
    const done = await waitForStatus(queue, jobId, ["cancelled", "completed", "failed"]);
    expect(done.status).toBe("cancelled");
  });
});
