// With its own record key (--signing-key) the runner believes only inbox records it signed: a job.json
// forged into inbox/ by anyone who can write to the synced queue neither ends a signed job nor has it
// counted as taken. Without a record key nothing can be authenticated: then an untrusted job is still
// refused as untrusted before any inbox record is believed, and the start-up log says records are not
// authenticated.
import { existsSync } from "node:fs";
import { copyFile, mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect } from "vitest";
import type { Job } from "../../protocol/index.ts";
import { makeJobId, signJob, writeJsonAtomic } from "../../protocol/index.ts";
import type { TestQueue } from "./helpers/make-job.ts";
import { buildJobFiles, readLines, submitJob, submittedJob, waitForStatus } from "./helpers/make-job.ts";
import { runnerTest as test, testConfig } from "./helpers/runner-harness.ts";
import type { TestKey } from "./helpers/signed-job.ts";
import { makeKey, notCopied, submitSignedJob } from "./helpers/signed-job.ts";

const PYTHON = "python3";

async function keys(queue: TestQueue): Promise<{ submitter: TestKey; workstation: TestKey }> {
  return { submitter: await makeKey(queue, "submitter"), workstation: await makeKey(queue, "workstation") };
}

function inboxFile(queue: TestQueue, jobId: string): string {
  return path.join(queue.paths.inbox, jobId, "job.json");
}

async function forge(queue: TestQueue, jobId: string, record: Record<string, unknown>): Promise<void> {
  await mkdir(path.join(queue.paths.inbox, jobId), { recursive: true });
  await writeJsonAtomic(inboxFile(queue, jobId), record);
}

const FORGED_ENDS = [
  { what: "unsigned", sign: false },
  { what: "carrying another record's runner signature", sign: true },
];

describe("a runner with a record key", () => {
  test.for(FORGED_ENDS)(
    "runs a signed job still arriving although a forged final inbox record ($what) is there",
    async ({ sign }, { queue, startRunner }) => {
      const { submitter, workstation } = await keys(queue);
      const running = await startRunner(
        testConfig(queue, PYTHON, { trustKeys: [submitter.publicPath], signingKey: workstation.privatePath }),
      );
      // A record this runner really signed, of another job: its signature must not carry over.
      const other = await submitJob(queue, { name: "refused other", fixture: "interleave.py" });
      const refused = await waitForStatus(queue, other, ["failed"]);
      const marker = path.join(queue.scratch, "ran");
      const spec = {
        name: "late model",
        fixture: "counted_sleep.py",
        args: [marker, "0"],
        files: { "1_setup/m1.prt": "model A" },
      };
      const jobId = makeJobId(spec.name, new Date());
      const staging = path.join(queue.base, "staging", jobId);
      const manifest = await buildJobFiles(staging, spec);
      const job = signJob(
        { ...submittedJob(jobId, spec, manifest, new Date()), files: manifest },
        submitter.key,
      );
      const out = path.join(queue.paths.outbox, jobId);
      await mkdir(out, { recursive: true });
      await copyFile(path.join(staging, "counted_sleep.py"), path.join(out, "counted_sleep.py"));
      await writeJsonAtomic(path.join(out, "job.json"), job);
      await running.waitForLog(jobId, "waiting");
      await forge(queue, jobId, {
        ...job,
        status: "failed",
        seq: 9,
        error: { kind: "rejected", message: "forged" },
        ...(sign ? { runner_signature: refused.runner_signature } : {}),
      });
      await running.waitForLog(`inbox record of ${jobId} ignored`);
      await mkdir(path.join(out, "1_setup"), { recursive: true });
      await writeFile(path.join(out, "1_setup", "m1.prt"), "model A");
      const done = await waitForStatus(queue, jobId, ["completed", "cancelled"]);
      expect(done.status).toBe("completed");
      expect(await readLines(marker)).toEqual([jobId]);
    },
  );

  test.for([
    { forged: "cancelled", patch: { status: "cancelled", error: { kind: "cancelled", message: "forged" } } },
    { forged: "failed", patch: { status: "failed", error: { kind: "internal", message: "forged" } } },
  ])(
    "a running signed job is not ended by a forged $forged inbox record written while the runner was down",
    async ({ patch }, { queue, startRunner }) => {
      const { submitter, workstation } = await keys(queue);
      const config = testConfig(queue, PYTHON, {
        trustKeys: [submitter.publicPath],
        signingKey: workstation.privatePath,
      });
      const first = await startRunner(config);
      const marker = path.join(queue.scratch, "a.ran");
      const jobId = await submitSignedJob(
        queue,
        { name: "long a", fixture: "counted_sleep.py", args: [marker, "3"] },
        submitter.key,
      );
      const running = await waitForStatus(queue, jobId, ["running"]);
      await first.runner.stop({ stopJobs: false });
      const record = JSON.parse(await readFile(inboxFile(queue, jobId), "utf8")) as Job;
      await writeJsonAtomic(inboxFile(queue, jobId), { ...record, ...patch, seq: (record.seq ?? 0) + 1 });
      const second = await startRunner(config);
      await second.waitForLog(`inbox record of ${jobId} ignored`);
      const done = await waitForStatus(queue, jobId, ["completed"]);
      expect(done.results?.files.map((file) => file.path)).toContain("3_results/done.txt");
      // Its start as the ledger recorded it (just before the first record said running), not a new one.
      expect(done.started_at && running.started_at && done.started_at <= running.started_at).toBe(true);
      expect(await readLines(marker)).toEqual([jobId]);
    },
  );

  test("a queued signed job is not failed by a forged running inbox record written while the runner was down", async ({
    queue,
    startRunner,
  }) => {
    const { submitter, workstation } = await keys(queue);
    const config = testConfig(queue, PYTHON, {
      slots: 1,
      trustKeys: [submitter.publicPath],
      signingKey: workstation.privatePath,
    });
    const first = await startRunner(config);
    const blocker = await submitSignedJob(
      queue,
      {
        name: "holds the slot",
        fixture: "counted_sleep.py",
        args: [path.join(queue.scratch, "a.ran"), "30"],
      },
      submitter.key,
    );
    await waitForStatus(queue, blocker, ["running"]);
    const marker = path.join(queue.scratch, "b.ran");
    const queued = await submitSignedJob(
      queue,
      { name: "queued b", fixture: "counted_sleep.py", args: [marker, "0"] },
      submitter.key,
    );
    const view = await waitForStatus(queue, queued, ["queued"]);
    await first.stop();
    await writeJsonAtomic(inboxFile(queue, queued), { ...view, status: "running", seq: (view.seq ?? 0) + 1 });
    const second = await startRunner(config);
    const done = await waitForStatus(queue, queued, ["completed", "failed"]);
    expect(done.status, done.error?.message).toBe("completed");
    expect(await readLines(marker)).toEqual([queued]);
    expect(second.lines.join("")).toContain(`inbox record of ${queued} ignored`);
  });
});

describe("a runner with trusted keys but no record key", () => {
  test("says at start that inbox records cannot be authenticated", async ({ queue, startRunner }) => {
    const { submitter } = await keys(queue);
    const running = await startRunner(testConfig(queue, PYTHON, { trustKeys: [submitter.publicPath] }));
    await running.waitForLog("records unauthenticated", "cannot be authenticated without --signing-key");
  });

  test.for(["at its start (the ledger rebuilt from inbox/)", "while it runs"])(
    "refuses an unsigned job as untrusted before it believes a forged inbox record of it, %s",
    async (when, { queue, startRunner }) => {
      const { submitter } = await keys(queue);
      const config = testConfig(queue, PYTHON, { trustKeys: [submitter.publicPath] });
      if (when === "while it runs") await startRunner(config);
      const marker = path.join(queue.scratch, "ran");
      const spec = { name: "intruder", fixture: "counted_sleep.py", args: [marker, "0"] };
      const createdAt = new Date();
      const jobId = makeJobId(spec.name, createdAt);
      await forge(queue, jobId, {
        ...submittedJob(jobId, spec, undefined, createdAt),
        status: "running",
        seq: 3,
        runner: { host: "elsewhere", version: "0.0.0", heartbeat_s: 10 },
      });
      await submitSignedJob(queue, { ...spec, createdAt }, undefined);
      if (when !== "while it runs") await startRunner(config);
      const done = await waitForStatus(queue, jobId, ["failed"]);
      expect(done.error?.kind).toBe("untrusted");
      expect(notCopied(queue, jobId)).toBe(true);
      expect(existsSync(marker)).toBe(false);
    },
  );
});
