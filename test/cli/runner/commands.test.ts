import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, beforeEach, expect, test } from "vitest";
import { runAtomizerJobs } from "../../helpers/atomizer-jobs.ts";
import type { TestQueue } from "../../runner/helpers/make-job.ts";
import { folderArgs, inboxJob, makeQueue, submitJob } from "../../runner/helpers/make-job.ts";

const cli = runAtomizerJobs;

let queue: TestQueue;
beforeEach(async () => {
  queue = await makeQueue();
});
afterEach(async () => {
  await queue.cleanup();
});

test.each([
  { args: ["runner", "--help"], code: 0, out: "--slots N" },
  { args: ["doctor", "--help"], code: 0, out: "--python PATH" },
])("$args prints usage", async ({ args, code, out }) => {
  const result = await cli(args);
  expect(result.code).toBe(code);
  expect(result.stdout).toContain(out);
});

test.each([
  { args: ["runner"], err: "runner needs --queue DIR" },
  {
    args: ["runner", "--queue", "q", "--work", "w", "--state", "s", "--slots", "0"],
    err: "--slots must be a whole number",
  },
  {
    args: ["runner", "--queue", "q", "--work", "w", "--state", "s", "--heartbeat", "soon"],
    err: "--heartbeat must be a positive number",
  },
  {
    // Past 2^31 ms Node's timers fire at once: such a period would make the runner spin.
    args: ["runner", "--queue", "q", "--work", "w", "--state", "s", "--rescan", "3000000"],
    err: "--rescan must be at most 2147483 s",
  },
  { args: ["runner", "--bogus"], err: "Unknown option" },
])("$args is a usage error (exit 2)", async ({ args, err }) => {
  const result = await cli(args);
  expect(result.code).toBe(2);
  expect(result.stderr).toContain(err);
});

test("runner --once runs what is in outbox and exits 0", async () => {
  const jobId = await submitJob(queue, { name: "cli once", fixture: "interleave.py" });
  const result = await cli(["runner", ...folderArgs(queue), "--python", "python3", "--once"]);
  expect(result.code, result.stderr).toBe(0);
  expect(result.stderr).toMatch(new RegExp(`^\\S+Z ${jobId} completed`, "m"));
  expect((await inboxJob(queue, jobId))?.status).toBe("completed");
});

test("runner refuses a queue folder without the layout", async () => {
  const result = await cli([
    "runner",
    "--queue",
    path.join(queue.base, "nope"),
    "--work",
    queue.work,
    "--state",
    queue.state,
    "--once",
  ]);
  expect(result.code).toBe(1);
  expect(result.stderr).toContain("atomizer-jobs init");
});

test("doctor reports python, folders, Syncthing markers and disk", async () => {
  const args = ["doctor", ...folderArgs(queue), "--python", "python3"];
  const before = await cli(args);
  expect(before.code, before.stdout).toBe(0);
  expect(before.stdout).toMatch(/^ok\s+python: python3: Python 3\./m);
  expect(before.stdout).toMatch(/^warn\s+syncthing outbox: .* no \.stfolder/m);
  expect(before.stdout).toMatch(/^ok\s+work: .* is writable/m);
  expect(before.stdout).toMatch(/^(ok|warn)\s+disk: .* GiB free/m);
  await mkdir(path.join(queue.paths.outbox, ".stfolder"));
  await writeFile(path.join(queue.paths.inbox, ".stfolder"), "");
  const after = await cli(args);
  expect(after.stdout).toMatch(/^ok\s+syncthing outbox/m);
  expect(after.stdout).toMatch(/^ok\s+syncthing inbox/m);
});

test.each([
  { name: "missing python", args: ["--python", "/nonexistent/python"], out: /^fail\s+python: .*--python/m },
  {
    name: "missing queue",
    args: ["--queue", "/nonexistent/queue"],
    out: /^fail\s+queue: .*atomizer-jobs init/m,
  },
])("doctor fails on $name (exit 1)", async ({ args, out }) => {
  const result = await cli(["doctor", ...args]);
  expect(result.code).toBe(1);
  expect(result.stdout).toMatch(out);
});

test("doctor refuses a work folder inside the synced queue", async () => {
  const result = await cli([
    "doctor",
    "--queue",
    queue.paths.root,
    "--work",
    path.join(queue.paths.inbox, "work"),
    "--python",
    "python3",
  ]);
  expect(result.code).toBe(1);
  expect(result.stdout).toMatch(/^fail\s+work: .*outside the synced folders/m);
});
