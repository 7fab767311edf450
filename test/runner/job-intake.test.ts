import { mkdir, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, beforeEach, expect, test } from "vitest";
import { makeJobId, writeJsonAtomic } from "../../protocol/index.ts";
import type { IntakeContext, PendingJob } from "../../runner/job-intake.ts";
import { examineJob, prepareWorkDir, salvageJob } from "../../runner/job-intake.ts";
import { runnerPaths } from "../../runner/paths.ts";
import type { TestQueue } from "./helpers/make-job.ts";
import { buildJobFiles, makeQueue, submittedJob } from "./helpers/make-job.ts";

let queue: TestQueue;
let clock: number;
let ctx: IntakeContext;
beforeEach(async () => {
  queue = await makeQueue();
  clock = Date.parse("2026-02-10T14:30:00Z");
  const paths = runnerPaths(queue.paths.root, queue.work, queue.state);
  await prepareWorkDir(paths);
  ctx = {
    paths,
    config: { graceS: 60, settleS: 10, python: "python3" },
    platform: "linux",
    pending: new Map<string, PendingJob>(),
    trusted: [],
    hasCancelRequest: async () => false,
    nowMs: () => clock,
  };
});
afterEach(async () => {
  await queue.cleanup();
});

test.each([
  { raw: undefined, want: { created_by: "unknown", project: "unknown", script: "unknown", args: [] } },
  { raw: [1, 2], want: { created_by: "unknown" } },
  {
    raw: {
      created_by: "optimizer",
      project: 42,
      args: ["--start"],
      notify: { on_complete: true, on_fail: true },
      created_at: "2026-02-10T14:30:22Z",
    },
    want: {
      created_by: "optimizer",
      project: "unknown",
      args: ["--start"],
      notify: { on_complete: true, on_fail: true },
      created_at: "2026-02-10T14:30:22Z",
    },
  },
])("salvageJob keeps the readable seed fields of $raw", ({ raw, want }) => {
  const job = salvageJob(raw, "job-20260210-143022-starspec-wfe");
  expect(job).toMatchObject({ job_id: "job-20260210-143022-starspec-wfe", status: "submitted", ...want });
  if (raw === undefined) expect(job.created_at).toBe("2026-02-10T14:30:22.000Z");
});

test("a folder whose job.json never arrives fails as incomplete_transfer after the grace period", async () => {
  const jobId = makeJobId("never complete", new Date(clock));
  await mkdir(path.join(queue.paths.outbox, jobId));
  expect(await examineJob(ctx, jobId)).toMatchObject({ kind: "wait", reason: "job.json has not arrived" });
  clock += 61_000;
  expect(await examineJob(ctx, jobId)).toMatchObject({
    kind: "reject",
    error: { kind: "incomplete_transfer", missing_files: ["job.json"] },
  });
});

test("a plain SYS_19 job waits for Syncthing temp files and the settle period, then gets a manifest", async () => {
  const jobId = makeJobId("plain settle", new Date(clock));
  const dir = path.join(queue.paths.outbox, jobId);
  await buildJobFiles(dir, { name: "x", fixture: "interleave.py", files: { "1_setup/m1.prt": "part" } });
  await writeJsonAtomic(
    path.join(dir, "job.json"),
    submittedJob(jobId, { name: "x", fixture: "interleave.py" }, undefined, new Date(clock)),
  );
  await writeFile(path.join(dir, "1_setup", ".syncthing.m1.fem.tmp"), "still coming");
  expect(await examineJob(ctx, jobId)).toMatchObject({
    kind: "wait",
    reason: expect.stringContaining("still arriving"),
  });
  clock += 30_000;
  await rm(path.join(dir, "1_setup", ".syncthing.m1.fem.tmp"));
  expect(await examineJob(ctx, jobId)).toMatchObject({
    kind: "wait",
    reason: expect.stringContaining("unchanged for 10 s"),
  });
  clock += 11_000;
  const accepted = await examineJob(ctx, jobId);
  expect(accepted.kind).toBe("accept");
  if (accepted.kind === "accept")
    expect(accepted.job.files?.map((f) => f.path)).toEqual(["1_setup/m1.prt", "interleave.py"]);
  expect(ctx.pending.has(jobId)).toBe(false);
});

test("a cancel request before acceptance wins over verification", async () => {
  const jobId = makeJobId("cancel first", new Date(clock));
  const dir = path.join(queue.paths.outbox, jobId);
  const manifest = await buildJobFiles(dir, { name: "x", fixture: "interleave.py" });
  await writeJsonAtomic(
    path.join(dir, "job.json"),
    submittedJob(jobId, { name: "x", fixture: "interleave.py" }, manifest, new Date(clock)),
  );
  ctx.hasCancelRequest = async (id) => id === jobId;
  expect(await examineJob(ctx, jobId)).toMatchObject({ kind: "cancel", job: { job_id: jobId } });
});

test("files not in the manifest and conflict copies are noted, not copied", async () => {
  const jobId = makeJobId("extra files", new Date(clock));
  const dir = path.join(queue.paths.outbox, jobId);
  const manifest = await buildJobFiles(dir, { name: "x", fixture: "interleave.py" });
  await writeJsonAtomic(
    path.join(dir, "job.json"),
    submittedJob(jobId, { name: "x", fixture: "interleave.py" }, manifest, new Date(clock)),
  );
  await writeFile(path.join(dir, "notes.txt"), "extra");
  await writeFile(path.join(dir, "interleave.sync-conflict-20260210-143022-ABCDEFG.py"), "conflict");
  const result = await examineJob(ctx, jobId);
  expect(result.kind).toBe("accept");
  if (result.kind === "accept") {
    expect(result.notes.join("\n")).toContain("not in the manifest, not copied: notes.txt");
    expect(result.notes.join("\n")).toContain("conflict copies");
  }
});
