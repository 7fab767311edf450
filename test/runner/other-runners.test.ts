import { spawn } from "node:child_process";
import { mkdir, rm, writeFile } from "node:fs/promises";
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
const SLOW_READS = fileURLToPath(new URL("./fixtures/slow-lock-reads.cjs", import.meta.url));

/** Starts `count` racers for the lock of `state`; resolves with what each said once all have spoken. */
async function race(state: string, count: number, preload: string[] = []): Promise<string[]> {
  await rm(path.join(state, "release"), { force: true });
  const racers = Array.from({ length: count }, () => {
    const child = spawn(process.execPath, [...preload, LOCKER, state], { stdio: ["ignore", "pipe", "pipe"] });
    const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()));
    const said = new Promise<string>((resolve) => {
      let out = "";
      child.stdout.on("data", (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes("\n")) resolve(out.trim());
      });
      void exited.then(() => resolve(out.trim()));
    });
    return { said, exited };
  });
  const results = await Promise.all(racers.map((racer) => racer.said));
  await writeFile(path.join(state, "release"), "");
  await Promise.all(racers.map((racer) => racer.exited));
  return results;
}

test.each([
  { lock: "none", racers: 2 },
  { lock: "left by a dead runner", racers: 4 },
  { lock: "left by a dead runner killed mid-takeover", racers: 4 },
])(
  "the state folder lock is atomic ($lock before, $racers racers): exactly one gets it, every time",
  async ({ lock, racers }) => {
    const state = path.join(queue.base, "race-state");
    await mkdir(state, { recursive: true });
    for (let trial = 0; trial < 10; trial++) {
      if (lock !== "none") {
        // A pid that no longer runs: every racer judges the lock stale and tries to take it over.
        const dead = spawn(process.execPath, ["-e", ""]);
        await new Promise((resolve) => dead.on("exit", resolve));
        const owner = `${JSON.stringify({ pid: dead.pid, start: null })}\n`;
        await writeFile(path.join(state, "runner.lock"), owner);
        if (lock.endsWith("mid-takeover")) await writeFile(path.join(state, "runner.lock.takeover"), owner);
      }
      // Reads of the lock made slow, so the racers' check-then-remove steps overlap.
      const results = await race(state, racers, lock === "none" ? [] : ["--require", SLOW_READS]);
      expect(results.filter((r) => r === "locked").length, `trial ${trial}: ${results.join(", ")}`).toBe(1);
      expect(results.filter((r) => r.startsWith("refused: another runner")).length).toBe(racers - 1);
    }
  },
);
