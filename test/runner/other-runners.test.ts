import { spawn } from "node:child_process";
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, expect, test } from "vitest";
import { startAtomizerJobs } from "../helpers/atomizer-jobs.ts";
import type { TestQueue } from "./helpers/make-job.ts";
import { folderArgs, makeQueue, readText, submitJob, waitFor, waitForStatus } from "./helpers/make-job.ts";

let queue: TestQueue;
const children: ReturnType<typeof spawn>[] = [];
beforeEach(async () => {
  queue = await makeQueue();
});
afterEach(async () => {
  for (const child of children.splice(0)) child.kill("SIGKILL");
  await queue.cleanup();
});

function runner(host: string, folders: string[]) {
  const args = ["runner", ...folders, "--python", "python3", "--heartbeat", "0.3", "--rescan", "0.3"];
  const live = startAtomizerJobs([...args, "--host", host]);
  children.push(live.child);
  return live;
}

const elsewhere = (name: string) => [
  "--queue",
  queue.paths.root,
  "--work",
  path.join(queue.base, name, "work"),
  "--state",
  path.join(queue.base, name, "state"),
];

test("a runner that sees another live runner on its queue says so and takes no job; the job runs once", async () => {
  const first = runner("nx-one", folderArgs(queue));
  await waitFor("the first runner's heartbeat", () =>
    readText(path.join(queue.paths.runnersDir, "nx-one.json")).then((t) => t || undefined),
  );
  const second = runner("nx-two", elsewhere("second"));
  await waitFor("the second runner to notice", () =>
    second.output().includes("NOT TAKING JOBS") ? true : undefined,
  );
  expect(second.output()).toContain("nx-one");
  const counter = path.join(queue.scratch, "runs.txt");
  const jobId = await submitJob(queue, {
    name: "one runner only",
    fixture: "interleave.py",
    args: [counter],
  });
  expect(await waitForStatus(queue, jobId, ["completed", "failed"])).toMatchObject({
    status: "completed",
    runner: { host: "nx-one" },
  });
  expect(await readText(counter)).toBe(`${jobId}\n`);
  expect(second.output()).toContain(`${jobId} waiting: not taken while another runner is live`);
  // Once the other runner is gone (a clean stop says so at once), this one takes jobs again.
  first.child.kill("SIGTERM");
  await first.exited;
  await waitFor("intake to resume", () => (second.output().includes("taking jobs again") ? true : undefined));
});

test("a second live runner with the same host name refuses to start: both would write one heartbeat", async () => {
  runner("same-name", folderArgs(queue));
  await waitFor("the first heartbeat", () =>
    readText(path.join(queue.paths.runnersDir, "same-name.json")).then((t) => t || undefined),
  );
  const second = runner("same-name", elsewhere("second"));
  expect(await second.exited).toBe(1);
  expect(second.output()).toContain("another runner named same-name is live on this queue");
});

const LOCKER = fileURLToPath(new URL("./fixtures/take-lock.ts", import.meta.url));

test("the state folder lock is atomic: of two runners racing for it, exactly one gets it, every time", async () => {
  const state = path.join(queue.base, "race-state");
  await mkdir(state, { recursive: true });
  for (let trial = 0; trial < 15; trial++) {
    const racers = [0, 1].map(() => {
      const child = spawn(process.execPath, [LOCKER, state], { stdio: ["ignore", "pipe", "pipe"] });
      let out = "";
      child.stdout.on("data", (chunk: Buffer) => {
        out += chunk.toString();
      });
      return new Promise<string>((resolve) => child.on("exit", () => resolve(out.trim())));
    });
    const results = await Promise.all(racers);
    expect(results.filter((r) => r === "locked").length, `trial ${trial}: ${results.join(", ")}`).toBe(1);
    expect(results.filter((r) => r.startsWith("refused")).length).toBe(1);
  }
});
